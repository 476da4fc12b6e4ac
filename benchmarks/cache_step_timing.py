"""Per-step time of a cached-teacher KD step against a student-only step.

Run: ``python benchmarks/cache_step_timing.py``

Each figure is the difference between a 60-step and a 20-step `fit` (after a
warm-up), divided by 40, which removes the fixed cost of starting a `fit`.
Complements ``benchmarks/speed.py`` when its ratios look noise-dominated.
"""

import time

import keras
import tensorflow as tf

from keras_kd import data, distillers, models
from keras_kd.cache import cache_teacher_outputs
from keras_kd.demo import PRETRAINED_TEACHER


def per_step_ms(model, ds):
    model.fit(ds, epochs=1, steps_per_epoch=5, verbose=0)
    seconds = []
    for steps in (20, 60):
        start = time.perf_counter()
        model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
        seconds.append(time.perf_counter() - start)
    return (seconds[1] - seconds[0]) / 40 * 1000


def main():
    teacher = keras.saving.load_model(PRETRAINED_TEACHER)
    raw = data.load("sample", "train").map(lambda x, y: (tf.ensure_shape(x, [32, 32, 3]), y))
    raw = raw.cache()
    plain = raw.batch(128, drop_remainder=True).repeat().prefetch(4)
    student = models.mlperf_tiny_resnet8()
    student.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    print(f"student-only: {per_step_ms(student, plain):.1f} ms/step")
    for check_finite in (True, False):
        kd = distillers.KD(
            student=models.mlperf_tiny_resnet8(), teacher=teacher, check_finite=check_finite
        )
        cache = cache_teacher_outputs(kd, raw)
        kd.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9))
        cached = cache.dataset.batch(128, drop_remainder=True).repeat().prefetch(4)
        print(f"cached KD (check_finite={check_finite}): {per_step_ms(kd, cached):.1f} ms/step")
    kd = distillers.KD(student=models.mlperf_tiny_resnet8(), teacher=teacher)
    kd.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9))
    print(f"uncached KD: {per_step_ms(kd, plain):.1f} ms/step")


if __name__ == "__main__":
    main()
