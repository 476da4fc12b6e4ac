"""Speed of the KD step on logits with positions: a segmentation pair, a
masked sequence pair and a two-head detector pair, against the student's own
step plus the teacher's inference.

Run through ``python benchmarks/speed.py --tasks-only`` (or a full
``python benchmarks/speed.py``). Synthetic data of the shapes the
benchmarks use: 64 x 64 canvases with 11 classes per pixel (an
encoder-decoder teacher, an MCU-sized student), 64-token sequences of a
100-character vocabulary with padding (a GRU-256 teacher, a GRU-64 student),
and 64 x 64 images to a detector's 8 x 8 grid of class logits (11 classes)
and box offsets (a loss per head; KD on the class head, ``logits_output``).
Each configuration is warmed up (traced) first, then the configurations take
turns over ``rounds`` epochs (`task_speed`).
"""

import statistics

import keras
import numpy as np
import tensorflow as tf
from _timers import fit_epoch, inference_epoch

from keras_kd import distillers

CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
CLASSES, VOCAB, LENGTH = 11, 100, 64
TASKS = ("segmentation", "sequence", "detection")
DETECTION_LOSS = {"classes": CE, "boxes": keras.losses.Huber()}


def segmenter(width, name):
    inputs = keras.Input((64, 64, 3))
    h = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(inputs)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(2 * width, 3, padding="same", activation="relu")(h)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(2 * width, 3, padding="same", activation="relu")(h)
    h = keras.layers.UpSampling2D()(h)
    h = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(h)
    h = keras.layers.UpSampling2D()(h)
    return keras.Model(inputs, keras.layers.Conv2D(CLASSES, 1)(h), name=name)


def language_model(units, name):
    inputs = keras.Input((LENGTH,), dtype="int32")
    h = keras.layers.Embedding(VOCAB, 32, mask_zero=True)(inputs)
    h = keras.layers.GRU(units, return_sequences=True)(h)
    return keras.Model(inputs, keras.layers.Dense(VOCAB)(h), name=name)


def detector(width, name):
    inputs = keras.Input((64, 64, 3))
    h = keras.layers.Conv2D(width, 3, strides=2, padding="same", activation="relu")(inputs)
    h = keras.layers.Conv2D(2 * width, 3, strides=2, padding="same", activation="relu")(h)
    h = keras.layers.Conv2D(2 * width, 3, strides=2, padding="same", activation="relu")(h)
    classes = keras.layers.Reshape((64, CLASSES))(keras.layers.Conv2D(CLASSES, 1)(h))
    boxes = keras.layers.Reshape((64, 4))(keras.layers.Conv2D(4, 1)(h))
    return keras.Model(inputs, {"classes": classes, "boxes": boxes}, name=name)


def task_data(task, samples, batch_size):
    rng = np.random.default_rng(0)
    if task == "detection":
        x = rng.random((samples, 64, 64, 3)).astype("float32")
        y = {
            "classes": rng.integers(0, CLASSES, (samples, 64)),
            "boxes": rng.normal(size=(samples, 64, 4)).astype("float32"),
        }
    elif task == "segmentation":
        x = rng.random((samples, 64, 64, 3)).astype("float32")
        y = rng.integers(0, CLASSES, (samples, 64, 64))
    else:
        lengths = rng.integers(LENGTH // 2, LENGTH + 1, samples)
        real = np.arange(LENGTH)[None] < lengths[:, None]
        x = np.where(real, rng.integers(1, VOCAB, (samples, LENGTH)), 0).astype("int32")
        y = np.where(real, rng.integers(1, VOCAB, (samples, LENGTH)), 0)
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    return dataset.batch(batch_size, drop_remainder=True).cache().prefetch(4)


def pair(task):
    keras.utils.set_random_seed(0)
    if task == "segmentation":
        return segmenter(8, "student"), segmenter(32, "teacher")
    if task == "detection":
        return detector(8, "student"), detector(32, "teacher")
    return language_model(64, "student"), language_model(256, "teacher")


def task_speed(rounds=7, samples=2048, batch_size=32):
    """``{task: {entry: seconds per step}}`` and ``{ratio name: {median, low, high}}``.

    In each round the three entries run one epoch each, in an order that
    rotates from round to round; the round's ratio KD / (student + teacher
    inference) is taken from its own three epochs, so a change of load on
    the machine between rounds cancels out. Step figures are medians over
    rounds; a ratio is the median of the rounds' ratios, with their range.
    """
    results, ratios = {}, {}
    steps = samples // batch_size
    for task in TASKS:
        dataset = task_data(task, samples, batch_size)
        student, teacher = pair(task)
        named = {"logits_output": "classes"} if task == "detection" else {}
        kd = distillers.KD(student=pair(task)[0], teacher=teacher, **named)
        loss = DETECTION_LOSS if task == "detection" else CE
        for model in (student, kd):
            model.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss)
        epochs = {
            "student-only step": fit_epoch(student, dataset, steps),
            "keras_kd KD step": fit_epoch(kd, dataset, steps),
            "teacher inference": inference_epoch(teacher, [x for x, _ in dataset]),
        }
        for run in epochs.values():
            run()  # trace and warm up
        times, round_ratios = {name: [] for name in epochs}, []
        names = list(epochs)
        for r in range(rounds):
            seconds = {}
            for name in names[r % 3 :] + names[: r % 3]:
                elapsed, n = epochs[name]()
                seconds[name] = elapsed / n
                times[name].append(seconds[name])
            round_ratios.append(
                seconds["keras_kd KD step"]
                / (seconds["student-only step"] + seconds["teacher inference"])
            )
        results[task] = {name: statistics.median(t) for name, t in times.items()}
        ratio = {
            "median": statistics.median(round_ratios),
            "low": min(round_ratios),
            "high": max(round_ratios),
        }
        ratios[f"{task} KD / (student + teacher inference) (target <= 1.05)"] = ratio
        print(f"{task}: {results[task]} ratio {ratio}", flush=True)
    return results, ratios
