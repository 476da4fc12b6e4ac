"""Dataset loaders: TFDS by name, local TFRecord files, image folders, the sample.

Every loader returns an unbatched `tf.data.Dataset` of
``(float32 image with values 0..255, int32 label)``.
"""

import os

from keras_kd.data.cifar10 import (
    CIFAR10_CLASSES,
    load_cifar10_split,
    load_sample,
)
from keras_kd.data.folder import load_image_folder
from keras_kd.data.pipeline import batch_for_training
from keras_kd.data.tfds import load_tfds, tfds_dataset
from keras_kd.data.tfrecord import load_tfrecord


def load(source, split="train", data_dir=None, download=False):
    """Loads a dataset from a name or a local path.

    Args:
        source: ``"sample"`` (the embedded CIFAR-10 sample), ``"tfds:NAME"``,
            a ``.tfrecord.gz`` file laid out like the shared CIFAR-10 split
            (``split`` picks its train or validation part), or an image folder
            ``root/<class>/<image>`` (``split`` is ignored).
        split: ``"train"`` or ``"validation"`` (a TFDS split expression for TFDS).
        data_dir: TFDS data folder (``tfds:NAME`` only). None: TFDS's default.
        download: let TFDS download and prepare a dataset that is not in
            ``data_dir`` (``tfds:NAME`` only).

    Returns:
        An unbatched `tf.data.Dataset` of ``(image, label)``.
    """
    if not isinstance(source, str) or not source:
        raise ValueError(
            "`source` must be 'sample', 'tfds:NAME', a .tfrecord.gz file or an "
            f"image folder. Received: source={source!r}"
        )
    if source == "sample":
        return load_sample(split)
    if source.startswith("tfds:"):
        name = source[len("tfds:") :]
        return tfds_dataset(name, split, data_dir, download, received=f"source={source!r}")
    if os.path.isdir(source):
        return load_image_folder(source)[0]
    if os.path.isfile(source):
        return load_cifar10_split(source, split)
    raise ValueError(
        "`source` must be 'sample', 'tfds:NAME', an existing .tfrecord.gz file or "
        f"an existing image folder. Received: source={source!r} (no such path)"
    )


__all__ = [
    "CIFAR10_CLASSES",
    "batch_for_training",
    "load",
    "load_cifar10_split",
    "load_image_folder",
    "load_sample",
    "load_tfds",
    "load_tfrecord",
]
