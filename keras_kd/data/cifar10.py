"""The shared CIFAR-10 split and the small sample shipped inside keras_kd.

The shared file holds the 50,000 training images in a fixed random order: the
first 45,000 are the training split and the last 5,000 the validation split.
The embedded sample is a subset of it in the same format: training images
from the first 45,000 and validation images from the last 5,000.
"""

import os

import tensorflow as tf

from keras_kd.data.tfrecord import check_tfrecord, count_records, load_tfrecord

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
SHARED_TRAIN_SIZE = 45_000
SHARED_VALIDATION_SIZE = 5_000
SAMPLE_DIR = os.path.join(os.path.dirname(__file__), "sample")
SAMPLE_FILES = {
    "train": "cifar10-sample-train.tfrecord.gz",
    "validation": "cifar10-sample-validation.tfrecord.gz",
}
SAMPLE_SIZES = {"train": 5_000, "validation": 1_000}
_SPLITS = ("train", "validation")


def _check_split(split):
    if split not in _SPLITS:
        raise ValueError(f"`split` must be one of {_SPLITS}. Received: split={split!r}")


def load_cifar10_split(path, split="train", count=None):
    """Loads the train (first 45,000) or validation (last 5,000) split.

    Args:
        path: the shared ``cifar10-train.tfrecord.gz`` (50,000 records).
        split: ``"train"`` or ``"validation"``.
        count: read only the first ``count`` records of the split.

    Returns:
        A `tf.data.Dataset` of ``(float32 image in 0..255, int32 label)``.

    Example:
        ```python
        val = load_cifar10_split("cifar10-train.tfrecord.gz", "validation")
        ```
    """
    _check_split(split)
    check_tfrecord(path)
    total = count_records(path)
    if total != SHARED_TRAIN_SIZE + SHARED_VALIDATION_SIZE:
        raise ValueError(
            f"`path` must be the shared CIFAR-10 file of "
            f"{SHARED_TRAIN_SIZE + SHARED_VALIDATION_SIZE:,} records; for another "
            "file use keras_kd.data.load(path, split, validation_split=...). "
            f"Received: path={path!r} ({total} records)"
        )
    start = 0 if split == "train" else SHARED_TRAIN_SIZE
    size = SHARED_TRAIN_SIZE if split == "train" else SHARED_VALIDATION_SIZE
    count = min(count or size, size)
    return load_tfrecord(path, start=start, count=count).apply(
        tf.data.experimental.assert_cardinality(count)
    )


def load_sample(split="train"):
    """Loads the CIFAR-10 sample embedded in the package (no download).

    Args:
        split: ``"train"`` (5,000 images) or ``"validation"`` (1,000 images).

    Returns:
        An unbatched `tf.data.Dataset` of ``(float32 32x32x3 image in 0..255,
        int32 label)``, in a fixed order; `load` with ``"sample"`` returns the same.

    Example:
        ```python
        val = data.load_sample("validation").batch(250)
        ```
    """
    _check_split(split)
    ds = load_tfrecord(os.path.join(SAMPLE_DIR, SAMPLE_FILES[split]))
    return ds.apply(tf.data.experimental.assert_cardinality(SAMPLE_SIZES[split]))
