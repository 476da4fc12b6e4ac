"""Reference teachers and students with named, tappable stage outputs.

Every builder takes raw RGB images (0..255, standardized inside the model)
and returns logits. ``python -m keras_kd.models.complexity`` prints each
builder's parameters and multiply-accumulates per image.
"""

from keras_kd.models._blocks import CIFAR10_MEAN, CIFAR10_STD
from keras_kd.models.complexity import count_macs
from keras_kd.models.mlperf_tiny import mlperf_tiny_resnet8
from keras_kd.models.mobilenet_v2 import mobilenet_v2
from keras_kd.models.resnet import (
    cifar_resnet,
    resnet8,
    resnet8x4,
    resnet20,
    resnet32x4,
    resnet56,
)
from keras_kd.models.vgg import vgg, vgg8, vgg13
from keras_kd.models.wrn import wide_resnet, wrn_16_2, wrn_40_2

BUILDERS = {
    "mlperf_tiny_resnet8": mlperf_tiny_resnet8,
    "resnet8": resnet8,
    "resnet20": resnet20,
    "resnet56": resnet56,
    "resnet8x4": resnet8x4,
    "resnet32x4": resnet32x4,
    "wrn_16_2": wrn_16_2,
    "wrn_40_2": wrn_40_2,
    "vgg8": vgg8,
    "vgg13": vgg13,
    "mobilenet_v2": mobilenet_v2,
}

__all__ = [
    "BUILDERS",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "cifar_resnet",
    "count_macs",
    "mlperf_tiny_resnet8",
    "mobilenet_v2",
    "resnet8",
    "resnet8x4",
    "resnet20",
    "resnet32x4",
    "resnet56",
    "vgg",
    "vgg8",
    "vgg13",
    "wide_resnet",
    "wrn_16_2",
    "wrn_40_2",
]
