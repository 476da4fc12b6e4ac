"""Cost of the per-pixel KD term and of the step guard's probability checks alone.

Run: ``python benchmarks/kd_term_cost.py``

On the segmentation speed pair's logits (batch 32, 64 x 64 pixels, 11
classes; `speed_tasks.py`): ``kd_loss`` with its gradient, and the two
``are_probabilities`` checks the step guard makes of the teacher's and the
student's logits, each traced once and then timed over 50 calls (ms per call).
"""

import time

import numpy as np
import tensorflow as tf

from keras_kd.distillers._step_checks import are_probabilities
from keras_kd.losses import kd_loss

SHAPE = (32, 64, 64, 11)


def main(calls=50):
    rng = np.random.default_rng(0)
    teacher = tf.constant(rng.normal(size=SHAPE).astype("float32"))
    student = tf.Variable(rng.normal(size=SHAPE).astype("float32"))

    @tf.function
    def kd_with_gradient():
        with tf.GradientTape() as tape:
            loss = kd_loss(teacher, student, 4.0)
        return tape.gradient(loss, student)

    @tf.function
    def probability_checks():
        return are_probabilities(teacher), are_probabilities(student)

    for name, fn in (
        ("kd_loss + gradient", kd_with_gradient),
        ("2 probability checks", probability_checks),
    ):
        fn()
        start = time.perf_counter()
        for _ in range(calls):
            tf.nest.map_structure(lambda v: v.numpy(), fn())
        print(f"{name}: {1000 * (time.perf_counter() - start) / calls:.1f} ms")


if __name__ == "__main__":
    main()
