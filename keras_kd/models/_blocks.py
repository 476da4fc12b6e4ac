"""Building blocks shared by the reference model builders."""

import keras
import numpy as np

# Per-channel statistics of the CIFAR-10 training images (RGB, 0..1 scale),
# the values used by the CIFAR literature (e.g. RepDistiller, mdistiller).
CIFAR10_MEAN = np.array([0.4914, 0.4822, 0.4465], dtype="float32")
CIFAR10_STD = np.array([0.2470, 0.2435, 0.2616], dtype="float32")


def standardize(x, mean=CIFAR10_MEAN, std=CIFAR10_STD, name="standardize"):
    """Maps raw RGB values in 0..255 to per-channel standardized values.

    Built into every reference model so a saved model takes images as stored.
    """
    mean255 = (np.asarray(mean) * 255.0).astype("float32")
    var255 = ((np.asarray(std) * 255.0) ** 2).astype("float32")
    return keras.layers.Normalization(mean=mean255, variance=var255, name=name)(x)


def conv_bn(x, filters, kernel_size, strides, name, weight_decay=0.0):
    """Convolution (no bias) followed by BatchNormalization, no activation."""
    reg = keras.regularizers.L2(weight_decay) if weight_decay else None
    x = keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        kernel_regularizer=reg,
        name=f"{name}_conv",
    )(x)
    return keras.layers.BatchNormalization(name=f"{name}_bn")(x)


def basic_block(x, filters, strides, name, weight_decay=0.0):
    """ResNet basic block (two 3x3 convs); 1x1 projection when shape changes.

    The sum before the final ReLU is the layer ``{name}_preact`` (the
    pre-activation that activation-boundary distillation taps); the block
    output is ``{name}``.
    """
    shortcut = x
    y = conv_bn(x, filters, 3, strides, f"{name}_a", weight_decay)
    y = keras.layers.ReLU(name=f"{name}_a_relu")(y)
    y = conv_bn(y, filters, 3, 1, f"{name}_b", weight_decay)
    if strides != 1 or x.shape[-1] != filters:
        shortcut = conv_bn(x, filters, 1, strides, f"{name}_proj", weight_decay)
    y = keras.layers.Add(name=f"{name}_preact")([y, shortcut])
    return keras.layers.ReLU(name=name)(y)


def classifier_head(x, num_classes, name="logits"):
    """Global average pooling ("pool") and a dense layer giving logits."""
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.layers.Dense(num_classes, name=name)(x)
