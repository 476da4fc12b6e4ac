"""CIFAR ResNets (He et al., "Deep Residual Learning", CVPR 2016, section 4.2).

Three stages of basic blocks at 32x32, 16x16 and 8x8. Every builder names its
taps: ``stem``, ``stage1``, ``stage2``, ``stage3`` (block outputs after ReLU),
``stage{i}_preact`` (the last block's sum before ReLU), ``pool`` (the
penultimate vector) and ``logits``. Models take raw RGB images (0..255) and
standardize them internally.
"""

import keras

from keras_kd.models._blocks import basic_block, classifier_head, conv_bn, standardize


def cifar_resnet(
    depth,
    width_multiplier=1,
    num_classes=10,
    input_shape=(32, 32, 3),
    weight_decay=0.0,
    name=None,
):
    """Builds a CIFAR ResNet of depth ``6n + 2`` with stage widths 16k, 32k, 64k.

    Args:
        depth: total depth, ``6n + 2`` (8, 20, 32, 56, 110, ...).
        width_multiplier: k, the width factor (4 for the "x4" variants).
        num_classes: number of output logits.
        input_shape: image shape, channels last.
        weight_decay: L2 coefficient on conv kernels (0 disables it).
        name: model name; defaults to ``resnet{depth}`` or ``resnet{depth}x{k}``.

    Returns:
        A functional `keras.Model` from raw RGB images (0..255, standardized
        inside with the CIFAR-10 mean and std) to logits.

    Example:
        ```python
        resnet110 = keras_kd.models.cifar_resnet(110, num_classes=100)
        ```

    Reference:
        He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition",
        CVPR 2016, section 4.2.
    """
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"`depth` must be 6n + 2 with n >= 1 (8, 14, 20, 32, 56, ...). Received: depth={depth}"
        )
    blocks = (depth - 2) // 6
    widths = [16 * width_multiplier, 32 * width_multiplier, 64 * width_multiplier]
    if name is None:
        name = f"resnet{depth}" + (f"x{width_multiplier}" if width_multiplier != 1 else "")
    inputs = keras.Input(input_shape, name="image")
    x = standardize(inputs)
    x = conv_bn(x, widths[0], 3, 1, "stem", weight_decay)
    x = keras.layers.ReLU(name="stem")(x)
    for stage, filters in enumerate(widths, start=1):
        for block in range(blocks):
            strides = 2 if (stage > 1 and block == 0) else 1
            last = block == blocks - 1
            block_name = f"stage{stage}" if last else f"stage{stage}_block{block + 1}"
            x = basic_block(x, filters, strides, block_name, weight_decay)
    outputs = classifier_head(x, num_classes)
    return keras.Model(inputs, outputs, name=name)


def resnet8(**kwargs):
    """CIFAR ResNet-8: 78,714 parameters, 12.5M multiply-accumulates per image
    (10 classes; `python -m keras_kd.models.complexity`).

    Args:
        **kwargs: `cifar_resnet` arguments other than ``depth`` (``num_classes``,
            ``input_shape``, ``weight_decay``, ``name``).

    Returns:
        A functional `keras.Model` from raw RGB images (0..255) to logits, with the
        taps ``stem``, ``stage1``..``stage3``, ``stage{i}_preact``, ``pool`` and
        ``logits``.

    Example:
        ```python
        model = keras_kd.models.resnet8(num_classes=100)
        model.summary()
        ```
    """
    return cifar_resnet(8, **kwargs)


def resnet20(**kwargs):
    """CIFAR ResNet-20: 274,042 parameters, 40.8M multiply-accumulates per image
    (10 classes; `python -m keras_kd.models.complexity`).

    Args:
        **kwargs: `cifar_resnet` arguments other than ``depth`` (``num_classes``,
            ``input_shape``, ``weight_decay``, ``name``).

    Returns:
        A functional `keras.Model` from raw RGB images (0..255) to logits, with the
        taps ``stem``, ``stage1``..``stage3``, ``stage{i}_preact``, ``pool`` and
        ``logits``.

    Example:
        ```python
        model = keras_kd.models.resnet20(num_classes=100)
        model.summary()
        ```
    """
    return cifar_resnet(20, **kwargs)


def resnet56(**kwargs):
    """CIFAR ResNet-56: 860,026 parameters, 125.7M multiply-accumulates per image
    (10 classes; `python -m keras_kd.models.complexity`).

    Args:
        **kwargs: `cifar_resnet` arguments other than ``depth`` (``num_classes``,
            ``input_shape``, ``weight_decay``, ``name``).

    Returns:
        A functional `keras.Model` from raw RGB images (0..255) to logits, with the
        taps ``stem``, ``stage1``..``stage3``, ``stage{i}_preact``, ``pool`` and
        ``logits``.

    Example:
        ```python
        model = keras_kd.models.resnet56(num_classes=100)
        model.summary()
        ```
    """
    return cifar_resnet(56, **kwargs)


def resnet8x4(**kwargs):
    """CIFAR ResNet-8x4: 1,230,282 parameters, 194.7M multiply-accumulates per image
    (10 classes; `python -m keras_kd.models.complexity`).

    Args:
        **kwargs: `cifar_resnet` arguments other than ``depth`` and
            ``width_multiplier`` (``num_classes``, ``input_shape``,
            ``weight_decay``, ``name``).

    Returns:
        A functional `keras.Model` from raw RGB images (0..255) to logits, with the
        taps ``stem``, ``stage1``..``stage3``, ``stage{i}_preact``, ``pool`` and
        ``logits``.

    Example:
        ```python
        model = keras_kd.models.resnet8x4(num_classes=100)
        model.summary()
        ```
    """
    return cifar_resnet(8, width_multiplier=4, **kwargs)


def resnet32x4(**kwargs):
    """CIFAR ResNet-32x4: 7,437,770 parameters, 1100.7M multiply-accumulates per image
    (10 classes; `python -m keras_kd.models.complexity`).

    Args:
        **kwargs: `cifar_resnet` arguments other than ``depth`` and
            ``width_multiplier`` (``num_classes``, ``input_shape``,
            ``weight_decay``, ``name``).

    Returns:
        A functional `keras.Model` from raw RGB images (0..255) to logits, with the
        taps ``stem``, ``stage1``..``stage3``, ``stage{i}_preact``, ``pool`` and
        ``logits``.

    Example:
        ```python
        model = keras_kd.models.resnet32x4(num_classes=100)
        model.summary()
        ```
    """
    return cifar_resnet(32, width_multiplier=4, **kwargs)
