"""`keras-kd demo`: distill a CIFAR-10 student on the embedded sample, offline.

The teacher is the ResNet-20 shipped in `keras_kd/pretrained` (trained on the
shared split's 45,000 training images by `benchmarks/train_teacher.py`; the
sample's validation images come from the held-out 5,000) or, with
``--train-teacher``, one trained here on the sample. The student is the MLPerf
Tiny ResNet-8, trained twice from the same initialization with the same
recipe: alone, and with Hinton KD. No augmentation (the edge recipe), so the
teacher's logits are computed once (`keras_kd.cache`) and read back every
epoch instead of running the teacher at each step.

Eight epochs, the default, keep the demo under two minutes on two CPU cores,
and the distilled student's lead over the student alone is then larger than
after 6, 7, 10 or 12 epochs (the README gives the measurements).
"""

import math
import os
import time

import keras

from keras_kd import data, models, pretrained, recipes
from keras_kd._io import save_model_atomically
from keras_kd.cache import cache_teacher_outputs
from keras_kd.distillers import KD
from keras_kd.evaluation import top1_accuracy
from keras_kd_cli.distill import progress_verbosity

PRETRAINED_TEACHER = os.path.join(os.path.dirname(pretrained.__file__), "cifar10-resnet20.keras")
BATCH_SIZE = 64
EPOCHS = 8
STUDENT_LR = 0.05
TEACHER_LR = 0.1
SEED = 0


def _compile_and_fit(model, train, val, epochs, learning_rate, verbose):
    steps = math.ceil(data.cifar10.SAMPLE_SIZES["train"] / BATCH_SIZE) * epochs
    kwargs = {"optimizer": recipes.cifar_sgd(learning_rate, steps), "metrics": ["accuracy"]}
    if not isinstance(model, KD):
        kwargs["loss"] = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(**kwargs)
    start = time.time()
    model.fit(train, epochs=epochs, verbose=verbose, shuffle=False)
    seconds = time.time() - start
    return top1_accuracy(model, val), seconds


def _teacher(train, val, train_teacher, epochs, verbose):
    if not train_teacher and os.path.exists(PRETRAINED_TEACHER):
        return keras.saving.load_model(PRETRAINED_TEACHER), "pretrained (shared 45k split)"
    keras.utils.set_random_seed(SEED)
    teacher = models.resnet20()
    _compile_and_fit(teacher, train, val, epochs, TEACHER_LR, verbose)
    return teacher, f"trained here on the sample ({epochs} epochs)"


def run_demo(epochs=EPOCHS, out="demo-output", train_teacher=False, verbose=None):
    """Runs the demo and returns its table rows.

    Args:
        epochs: epochs for each student run (and a teacher trained here).
        out: folder for the distilled student (``student-kd.keras``).
        train_teacher: train the teacher on the sample instead of loading the
            shipped one.
        verbose: Keras `fit` verbosity, also the teacher caching's; None: a
            progress bar on a terminal, one line per epoch in a log or when
            ``CI`` is set.
    """
    verbose = progress_verbosity() if verbose is None else verbose
    train_raw = data.load_sample("train").cache()
    train = data.batch_for_training(train_raw, BATCH_SIZE, seed=SEED)
    val = data.load_sample("validation").batch(250).cache()
    teacher, origin = _teacher(train, val, train_teacher, epochs, verbose)
    teacher_acc = top1_accuracy(teacher, val)
    rows = [("teacher " + teacher.name + ", " + origin, teacher.count_params(), teacher_acc, None)]

    keras.utils.set_random_seed(SEED)
    alone = models.mlperf_tiny_resnet8()
    print(f"\n[1/2] student {alone.name} alone, {epochs} epochs")
    acc, secs = _compile_and_fit(alone, train, val, epochs, STUDENT_LR, verbose)
    rows.append(("student alone", alone.count_params(), acc, secs))

    keras.utils.set_random_seed(SEED)
    student = models.mlperf_tiny_resnet8()
    distiller = KD(student=student, teacher=teacher, temperature=4.0)
    print(f"\n[2/2] student {student.name} distilled (KD, T=4, CE 0.1, KD 0.9)")
    start = time.time()
    cache = cache_teacher_outputs(distiller, train_raw, verbose=verbose)
    cache_seconds = time.time() - start
    print(f"Teacher logits of {cache.samples:,} training images cached in {cache_seconds:.1f} s")
    cached_train = data.batch_for_training(cache.dataset, BATCH_SIZE, seed=SEED)
    acc, secs = _compile_and_fit(distiller, cached_train, val, epochs, STUDENT_LR, verbose)
    rows.append(("student distilled (KD)", student.count_params(), acc, secs + cache_seconds))
    path = os.path.join(out, "student-kd.keras")
    save_model_atomically(distiller.student, path)
    print_table(rows)
    gain = 100 * (rows[2][2] - rows[1][2])
    print(f"\nDistillation changed the student's accuracy by {gain:+.1f} points in this run.")
    print(f"Distilled student saved to {path} (a plain Keras model).")
    return rows


def print_table(rows):
    """Prints model / parameters / validation accuracy / training seconds
    (the distilled student's include caching the teacher's logits)."""
    print("\nCIFAR-10 sample: 5,000 training images, accuracy on 1,000 validation images")
    print(f"{'model':<58} {'params':>9} {'val acc':>8} {'train s':>8}")
    for name, params, acc, secs in rows:
        seconds = f"{secs:8.1f}" if secs is not None else f"{'-':>8}"
        print(f"{name:<58} {params:>9,} {acc:>8.2%} {seconds}")
