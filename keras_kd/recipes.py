"""The CIFAR training recipe shared by the demo, the examples and the benchmark.

SGD with Nesterov momentum 0.9, a cosine learning-rate decay to 0 over the
whole run, and decoupled weight decay, as in REFERENCES.md's reference run.
"""

import keras

MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4


def cifar_sgd(learning_rate, total_steps, weight_decay=WEIGHT_DECAY):
    """SGD (Nesterov, momentum 0.9) with cosine decay over ``total_steps``."""
    if total_steps <= 0:
        raise ValueError(f"`total_steps` must be > 0. Received: total_steps={total_steps}")
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)
    return keras.optimizers.SGD(
        schedule, momentum=MOMENTUM, nesterov=True, weight_decay=weight_decay
    )
