"""
Title: Run the teacher once: distillation with cached teacher outputs
Author: keras_kd contributors
Date created: 2026/11/28
Last modified: 2026/11/28
Description: Compute the teacher's logits once with `keras_kd.cache`, compare the epoch time and the accuracy with a teacher run at every step, and see when the cache cannot be used.
Accelerator: None
"""

"""
## Introduction

In offline distillation the teacher is frozen: given the same image, it gives
the same logits at every epoch. When the input pipeline is deterministic (no
random augmentation, as in the usual edge recipes), running it at every step
is wasted work. `keras_kd.cache.cache_teacher_outputs` runs the teacher once
over the training set and returns a dataset that pairs each sample with the
teacher's outputs; the distiller then reads them instead of running the
teacher.

This example trains the same student twice from the same initialization, on
the same batches in the same order: once with the teacher run at every step,
once on the cache. It prints the time per epoch and the accuracy of both, then
shows what a feature method's cache weighs and what happens when a random
augmentation is applied to a cached dataset.

The figures in the rendered version of this example
(`examples/md/teacher_cache.md`) are those one run
printed; its header names the machine and the command.
"""

"""
## Setup
"""

import math
import os
import statistics
import time

import keras

from keras_kd import data, distillers, models, pretrained, recipes
from keras_kd.cache import cache_teacher_outputs
from keras_kd.errors import TeacherCacheMismatchError
from keras_kd.evaluation import top1_accuracy

# KERAS_KD_EXAMPLE_SHORT=1 (the test suite's mode): 2 epochs on the first 128 training and
# 128 validation images, which only checks that the example runs (its timings mean
# nothing). KERAS_KD_EXAMPLE_EPOCHS overrides the epochs.
SHORT = os.environ.get("KERAS_KD_EXAMPLE_SHORT") == "1"
EPOCHS = int(os.environ.get("KERAS_KD_EXAMPLE_EPOCHS", 2 if SHORT else 6))
TRAIN_IMAGES, VALIDATION_IMAGES = (128, 128) if SHORT else (5000, 1000)
BATCH_SIZE = 64
SEED = 0

train_raw = data.load("sample", "train").take(TRAIN_IMAGES).cache()
val = data.load("sample", "validation").take(VALIDATION_IMAGES).batch(250).cache()
steps = math.ceil(TRAIN_IMAGES / BATCH_SIZE) * EPOCHS
teacher = pretrained.load_teacher()
print(f"teacher {teacher.name}: {teacher.count_params():,} parameters")


class EpochTimes(keras.callbacks.Callback):
    """Wall time of each training epoch (validation excluded: there is none here)."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def kd_distiller():
    keras.utils.set_random_seed(SEED)  # the same student initialization for both runs
    distiller = distillers.KD(
        student=models.mlperf_tiny_resnet8(),
        teacher=teacher,
        temperature=4.0,
        task_weight=0.1,
        kd_weight=0.9,
    )
    distiller.compile(optimizer=recipes.cifar_sgd(0.05, steps), metrics=["accuracy"])
    return distiller


"""
## The teacher at every step

`data.batch_for_training` shuffles with a fixed seed, so both runs see the same
batches in the same order.
"""

plain = kd_distiller()
plain_times = EpochTimes()
plain.fit(
    data.batch_for_training(train_raw, BATCH_SIZE, seed=SEED),
    epochs=EPOCHS,
    verbose=2,
    callbacks=[plain_times],
)

"""
## The teacher once

`cache_teacher_outputs` takes the **unbatched** dataset in a fixed order (the
caching pass batches it itself) and returns a `TeacherCache`: its `dataset`
yields `(image, {"labels": ..., teacher outputs, fingerprint})` samples that
may then be shuffled and batched freely. The distiller recognizes the cached
outputs in the batch and skips the teacher.
"""

cached = kd_distiller()
start = time.perf_counter()
cache = cache_teacher_outputs(cached, train_raw)
cache_seconds = time.perf_counter() - start
print(
    f"cached {cache.samples:,} samples in {cache_seconds:.1f} s, "
    f"{cache.bytes_per_sample} bytes per sample"
)
cached_times = EpochTimes()
cached.fit(
    data.batch_for_training(cache.dataset, BATCH_SIZE, seed=SEED),
    epochs=EPOCHS,
    verbose=2,
    callbacks=[cached_times],
)

"""
## Time and accuracy

The first epoch of each run includes tracing the train step into a graph, so
the typical epoch is the median of the others. The cached run's total also
includes the caching pass, one pass of teacher inference over the training
set: the cache repays it once the teacher time saved over the epochs exceeds
it, so the totals favour the cache more the longer the run. On a machine
shared with other jobs, every timing below also moves with their load (the
header of the rendered run gives the load average).
"""


def typical(seconds):
    return statistics.median(seconds[1:] or seconds)


plain_acc, cached_acc = top1_accuracy(plain.student, val), top1_accuracy(cached.student, val)
print(f"{'run':<26} {'epoch 1 s':>9} {'later epochs s':>14} {'total s':>8} {'val acc':>8}")
for name, times, extra, accuracy in [
    ("teacher at every step", plain_times.seconds, 0.0, plain_acc),
    ("cached teacher", cached_times.seconds, cache_seconds, cached_acc),
]:
    total = sum(times) + extra
    print(f"{name:<26} {times[0]:>9.1f} {typical(times):>14.1f} {total:>8.1f} {accuracy:>8.2%}")
print(
    f"later epochs, cached / every step: "
    f"{typical(cached_times.seconds) / typical(plain_times.seconds):.2f}"
)
print(f"accuracy difference (cached - every step): {100 * (cached_acc - plain_acc):+.2f} points")

"""
The two students see the same batches and the same teacher logits (cached in
float32, computed in inference mode), so their accuracies agree up to
floating-point rounding; the cache changes the cost, not the method. The
saving per step is the teacher's forward pass: large for a teacher much
bigger than the student, small for a teacher of about the student's size.

## What a feature method's cache weighs

A feature method needs the teacher's tapped feature maps too, and the cache
stores every one of them per sample. Attention transfer on three stages of
the ResNet-20 stores 32x32x16 + 16x16x32 + 8x8x64 values per image next to the
10 logits. Half-precision storage (`dtype="float16"`) halves it, and
`directory=` keeps the cache on disk instead of in memory.
"""

at = distillers.AttentionTransfer(
    student=models.mlperf_tiny_resnet8(),
    teacher=teacher,
    student_layers=["stage1", "stage2", "stage3"],
    teacher_layers=["stage1", "stage2", "stage3"],
)
for dtype in ("float32", "float16"):
    sizing = cache_teacher_outputs(at, train_raw.take(16), dtype=dtype)
    per_sample = sizing.bytes_per_sample
    print(
        f"AT cache, {dtype}: {per_sample:,} bytes per sample; "
        f"{per_sample * 5_000 / 2**20:,.0f} MiB for the 5,000-image sample, "
        f"{per_sample * 45_000 / 2**30:,.1f} GiB for 45,000 CIFAR-10 images"
    )
print(f"KD cache: {cache.bytes_per_sample} bytes per sample")

"""
## When the cache cannot be used

The cache is only valid if the student sees exactly the images the teacher
saw. A **random augmentation** (crop and flip, mixup, anything that changes
the images from one epoch to the next) breaks that, before or after the
cache. Each cached sample carries a fingerprint of its image; the train step
compares it with the image it receives and stops with a
`TeacherCacheMismatchError` before any weight changes:
"""

augmented = data.batch_for_training(cache.dataset, BATCH_SIZE, seed=SEED, augment=True)
try:
    cached.fit(augmented, epochs=1, verbose=0)
except TeacherCacheMismatchError as error:
    print(f"{type(error).__name__}: {str(error)[:220]}...")

"""
So do not cache the teacher when:

- the training pipeline augments at random: keep the teacher at every step
  (or write a fixed number of augmented copies once and cache those);
- the distiller has no frozen teacher: the online and self-distillation
  schemes (`DeepMutualLearning`, `ONE`, `BYOT`) train every network they use,
  and `cache_teacher_outputs` refuses anything but an offline `Distiller`;
- the taps do not fit: a feature method's cache grows with the tapped maps
  (above), so keep it on disk (`directory=`), in float16, tap fewer or smaller
  layers, or run the teacher at every step.

With no augmentation and logits only, as in `keras-kd demo`, the cache makes
a distilled run cost about what the student alone costs.
"""
