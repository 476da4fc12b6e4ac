"""Dataset loaders: TFDS by name, local TFRecord files, image folders, the sample.

Every loader returns an unbatched `tf.data.Dataset` of
``(float32 image with values 0..255, int32 label)``.
"""

from keras_kd.data.cifar10 import (
    CIFAR10_CLASSES,
    load_cifar10_split,
    load_sample,
)
from keras_kd.data.folder import load_image_folder
from keras_kd.data.indexed import with_sample_index
from keras_kd.data.pipeline import batch_for_training
from keras_kd.data.sources import load
from keras_kd.data.tfds import load_tfds
from keras_kd.data.tfrecord import load_tfrecord, load_tfrecord_split

__all__ = [
    "CIFAR10_CLASSES",
    "batch_for_training",
    "load",
    "load_cifar10_split",
    "load_image_folder",
    "load_sample",
    "load_tfds",
    "load_tfrecord",
    "load_tfrecord_split",
    "with_sample_index",
]
