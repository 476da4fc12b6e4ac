"""MobileNetV2 for 32x32 inputs (Sandler et al., CVPR 2018; CIFAR strides as
in RepDistiller's ``mobile_half``: width 0.5, expansion 6, stem stride 1).

Taps: ``stage1`` (32x32), ``stage2`` (16x16), ``stage3`` (8x8), ``stage4``
(4x4): the outputs of the last inverted-residual block at each resolution;
``pool`` and ``logits``. Uses ReLU6, depthwise convolutions and no op that
TFLite-Micro lacks.
"""

import keras

from keras_kd.models._blocks import classifier_head, standardize

# (expansion, channels, blocks, stride) with CIFAR strides.
SETTINGS = [
    (1, 16, 1, 1),
    (6, 24, 2, 1),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]
# Index of the setting whose last block ends each resolution.
STAGE_ENDS = {1: "stage1", 2: "stage2", 4: "stage3", 6: "stage4"}


def _divisible(value, divisor=8):
    return max(divisor, int(value + divisor / 2) // divisor * divisor)


def _conv_bn(x, filters, kernel, strides, name, relu=True):
    x = keras.layers.Conv2D(
        filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(6.0, name=f"{name}_relu6")(x) if relu else x


def _inverted_residual(x, expansion, filters, strides, name, out_name):
    inputs = x
    if expansion != 1:
        x = _conv_bn(x, inputs.shape[-1] * expansion, 1, 1, f"{name}_expand")
    x = keras.layers.DepthwiseConv2D(
        3, strides=strides, padding="same", use_bias=False, name=f"{name}_dw"
    )(x)
    x = keras.layers.ReLU(6.0, name=f"{name}_dw_relu6")(
        keras.layers.BatchNormalization(name=f"{name}_dw_bn")(x)
    )
    x = _conv_bn(x, filters, 1, 1, f"{name}_project", relu=False)
    if strides == 1 and inputs.shape[-1] == filters:
        return keras.layers.Add(name=out_name)([inputs, x])
    return keras.layers.Identity(name=out_name)(x)


def mobilenet_v2(width=0.5, num_classes=10, input_shape=(32, 32, 3), name=None):
    """Builds MobileNetV2 for 32x32 images with width multiplier ``width``.

    At width 0.5: 719,034 parameters, 28.0M multiply-accumulates per image
    (10 classes; `python -m keras_kd.models.complexity`).

    Args:
        width: the width multiplier (0.5 is RepDistiller's ``mobile_half``).
        num_classes: number of output logits.
        input_shape: image shape, channels last (raw RGB 0..255).
        name: model name (default ``mobilenet_v2_{width}``).

    Returns:
        A functional `keras.Model` returning logits, with the taps
        ``stage1``..``stage4``, ``pool`` and ``logits``.

    Example:
        ```python
        student = keras_kd.models.mobilenet_v2(width=0.5, num_classes=100)
        ```

    Reference:
        Sandler, Howard, Zhu, Zhmoginov, Chen, "MobileNetV2: Inverted
        Residuals and Linear Bottlenecks", CVPR 2018.
    """
    if not width > 0:
        raise ValueError(f"`width` must be > 0. Received: width={width}")
    inputs = keras.Input(input_shape, name="image")
    x = _conv_bn(standardize(inputs), _divisible(32 * width), 3, 1, "stem")
    for index, (expansion, channels, blocks, stride) in enumerate(SETTINGS):
        for block in range(blocks):
            last = block == blocks - 1
            block_name = f"block{index}_{block}"
            out_name = STAGE_ENDS[index] if last and index in STAGE_ENDS else f"{block_name}_out"
            strides = stride if block == 0 else 1
            x = _inverted_residual(
                x, expansion, _divisible(channels * width), strides, block_name, out_name
            )
    x = _conv_bn(x, 1280, 1, 1, "head")
    outputs = classifier_head(x, num_classes)
    return keras.Model(inputs, outputs, name=name or f"mobilenet_v2_{width:g}")
