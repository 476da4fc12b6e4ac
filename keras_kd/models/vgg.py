"""VGG networks for CIFAR with BatchNorm, as in RepDistiller's ``vgg8``/``vgg13``.

Five blocks of 3x3 conv + BN + ReLU; max pooling after the first four; global
average pooling and a dense classifier. Taps: ``stage1``..``stage5`` (block
outputs after ReLU, before pooling), ``stage{i}_preact`` (the last BN of the
block), ``pool`` and ``logits``.
"""

import keras

from keras_kd.models._blocks import classifier_head, conv_bn, standardize

CONFIGS = {
    8: [[64], [128], [256], [512], [512]],
    11: [[64], [128], [256, 256], [512, 512], [512, 512]],
    13: [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
}


def vgg(depth, num_classes=10, input_shape=(32, 32, 3), name=None):
    """Builds VGG-8, VGG-11 or VGG-13 (with BatchNorm) for 32x32 inputs.

    Args:
        depth: 8, 11 or 13.
        num_classes: number of output logits.
        input_shape: image shape, channels last (raw RGB 0..255).
        name: model name (default ``vgg{depth}``).

    Returns:
        A functional `keras.Model` returning logits, with the taps
        ``stage1``..``stage5``, ``stage{i}_preact``, ``pool`` and ``logits``.

    Example:
        ```python
        teacher = keras_kd.models.vgg(13, num_classes=100)
        ```

    Reference:
        Simonyan & Zisserman, "Very Deep Convolutional Networks for
        Large-Scale Image Recognition", ICLR 2015.
    """
    if depth not in CONFIGS:
        raise ValueError(f"`depth` must be one of {sorted(CONFIGS)}. Received: depth={depth}")
    inputs = keras.Input(input_shape, name="image")
    x = standardize(inputs)
    for stage, widths in enumerate(CONFIGS[depth], start=1):
        for i, filters in enumerate(widths, start=1):
            x = conv_bn(x, filters, 3, 1, f"stage{stage}_conv{i}")
            if i == len(widths):
                x = keras.layers.Identity(name=f"stage{stage}_preact")(x)
            x = keras.layers.ReLU(
                name=f"stage{stage}" if i == len(widths) else f"stage{stage}_relu{i}"
            )(x)
        if stage < len(CONFIGS[depth]):
            x = keras.layers.MaxPooling2D(2, name=f"stage{stage}_maxpool")(x)
    outputs = classifier_head(x, num_classes)
    return keras.Model(inputs, outputs, name=name or f"vgg{depth}")


def vgg8(**kwargs):
    """VGG-8: 3,920,330 parameters, 67.8M multiply-accumulates per image
    (10 classes; `python -m keras_kd.models.complexity`).

    Args:
        **kwargs: `vgg` arguments other than ``depth`` (``num_classes``,
            ``input_shape``, ``name``).

    Returns:
        A functional `keras.Model` returning logits (see `vgg` for its taps).

    Example:
        ```python
        model = keras_kd.models.vgg8(num_classes=100)
        ```
    """
    return vgg(8, **kwargs)


def vgg13(**kwargs):
    """VGG-13: 9,418,954 parameters, 228.3M multiply-accumulates per image
    (10 classes; `python -m keras_kd.models.complexity`).

    Args:
        **kwargs: `vgg` arguments other than ``depth`` (``num_classes``,
            ``input_shape``, ``name``).

    Returns:
        A functional `keras.Model` returning logits (see `vgg` for its taps).

    Example:
        ```python
        model = keras_kd.models.vgg13(num_classes=100)
        ```
    """
    return vgg(13, **kwargs)
