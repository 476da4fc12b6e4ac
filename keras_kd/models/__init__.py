"""Reference teachers and students with named, tappable stage outputs."""

from keras_kd.models._blocks import CIFAR10_MEAN, CIFAR10_STD
from keras_kd.models.mlperf_tiny import mlperf_tiny_resnet8
from keras_kd.models.resnet import (
    cifar_resnet,
    resnet8,
    resnet8x4,
    resnet20,
    resnet32x4,
    resnet56,
)

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "cifar_resnet",
    "mlperf_tiny_resnet8",
    "resnet8",
    "resnet8x4",
    "resnet20",
    "resnet32x4",
    "resnet56",
]
