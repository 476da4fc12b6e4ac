"""Cost of the per-pixel KD term, of ways to compute it, and of the step guard's checks.

Run: ``python benchmarks/kd_term_cost.py``

On the segmentation speed pair's logits (batch 32, 64 x 64 pixels, 11
classes; `speed_tasks.py`), each traced once and then timed over 50 calls
(ms per call):

- ``kd_loss`` with its gradient, as the distillers compute it;
- the same term compiled with XLA inside the graph (``jit_compile=True``);
- the same term with a hand-written gradient, ``T * (softmax(s/T) - p_t)``
  for the student (one pass instead of the log-softmax's backward);
- one ``log_softmax`` over the logits, the term's largest part;
- the two ``are_probabilities`` checks the step guard makes of the
  teacher's and the student's logits (on the first sample's positions).
"""

import time

import numpy as np
import tensorflow as tf

from keras_kd.distillers._step_checks import are_probabilities
from keras_kd.losses import kd_loss
from keras_kd.losses._reduce import batch_mean
from keras_kd.losses.kd import kd_per_sample

SHAPE = (32, 64, 64, 11)
T = 4.0


@tf.custom_gradient
def _kd_with_student_gradient(teacher, student):
    log_p_t = tf.nn.log_softmax(teacher / T)
    log_p_s = tf.nn.log_softmax(student / T)
    p_t = tf.exp(log_p_t)

    def grad(upstream):
        return None, upstream[..., None] * T * (tf.exp(log_p_s) - p_t)

    return T**2 * tf.reduce_sum(p_t * (log_p_t - log_p_s), axis=-1), grad


def main(calls=50):
    rng = np.random.default_rng(0)
    teacher = tf.constant(rng.normal(size=SHAPE).astype("float32"))
    student = tf.Variable(rng.normal(size=SHAPE).astype("float32"))
    compiled = tf.function(kd_per_sample, jit_compile=True)

    def with_gradient(term):
        @tf.function
        def run():
            with tf.GradientTape() as tape:
                loss = term()
            return tape.gradient(loss, student)

        return run

    entries = {
        "kd_loss + gradient": with_gradient(lambda: kd_loss(teacher, student, T)),
        "kd term under XLA + gradient": with_gradient(
            lambda: batch_mean(compiled(teacher, student, T))
        ),
        "kd term, hand-written gradient": with_gradient(
            lambda: batch_mean(_kd_with_student_gradient(teacher, student))
        ),
        "one log_softmax": tf.function(lambda: tf.nn.log_softmax(student)),
        "2 probability checks": tf.function(
            lambda: (are_probabilities(teacher), are_probabilities(student))
        ),
    }
    for name, fn in entries.items():
        fn()
        start = time.perf_counter()
        for _ in range(calls):
            tf.nest.map_structure(lambda v: v.numpy(), fn())
        print(f"{name}: {1000 * (time.perf_counter() - start) / calls:.1f} ms")


if __name__ == "__main__":
    main()
