"""Wide residual networks for CIFAR (Zagoruyko & Komodakis, BMVC 2016).

Pre-activation basic blocks in three groups of widths 16k, 32k, 64k. Taps:
``stem``, ``stage{i}_preact`` (a group's output sum) and ``stage{i}`` (its
BatchNorm + ReLU, which the next group takes), ``pool`` and ``logits``.
"""

import keras

from keras_kd.models._blocks import classifier_head, standardize


def _bn_relu(x, name):
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=name)(x)


def _conv(x, filters, kernel, strides, name):
    return keras.layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=name,
    )(x)


def _wide_block(x, activated, filters, strides, name):
    """``x`` is the block input, ``activated`` its BN + ReLU."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _conv(activated, filters, 1, strides, f"{name}_proj")
    y = _conv(activated, filters, 3, strides, f"{name}_a")
    y = _bn_relu(y, f"{name}_a_relu")
    y = _conv(y, filters, 3, 1, f"{name}_b")
    return keras.layers.Add(name=f"{name}_sum")([y, shortcut])


def wide_resnet(depth, width, num_classes=10, input_shape=(32, 32, 3), name=None):
    """Builds WRN-depth-width (depth = 6n + 4).

    Args:
        depth: total depth (16, 28, 40, ...).
        width: widening factor k.
        num_classes: number of output logits.
        input_shape: image shape, channels last (raw RGB 0..255).
        name: model name (default ``wrn_{depth}_{width}``).

    Returns:
        A functional `keras.Model` returning logits, with the taps ``stem``,
        ``stage{i}_preact``, ``stage{i}``, ``pool`` and ``logits``.

    Example:
        ```python
        wrn_28_10 = keras_kd.models.wide_resnet(28, 10, num_classes=100)
        ```

    Reference:
        Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016.
    """
    if depth < 10 or (depth - 4) % 6:
        raise ValueError(
            f"`depth` must be 6n + 4 (10, 16, 22, 28, 40, ...). Received: depth={depth}"
        )
    blocks = (depth - 4) // 6
    inputs = keras.Input(input_shape, name="image")
    x = _conv(standardize(inputs), 16, 3, 1, "stem_conv")
    activated = _bn_relu(x, "stem")
    for stage, filters in enumerate([16 * width, 32 * width, 64 * width], start=1):
        for block in range(blocks):
            strides = 2 if (stage > 1 and block == 0) else 1
            x = _wide_block(x, activated, filters, strides, f"stage{stage}_block{block + 1}")
            last = block == blocks - 1
            if last:
                x = keras.layers.Identity(name=f"stage{stage}_preact")(x)
            activated = _bn_relu(
                x, f"stage{stage}" if last else f"stage{stage}_block{block + 1}_out"
            )
    outputs = classifier_head(activated, num_classes)
    return keras.Model(inputs, outputs, name=name or f"wrn_{depth}_{width}")


def wrn_16_2(**kwargs):
    """WRN-16-2, the RepDistiller student: 693,498 parameters, 101.1M
    multiply-accumulates per image (10 classes; `python -m keras_kd.models.complexity`).

    Args:
        **kwargs: `wide_resnet` arguments other than ``depth`` and ``width``
            (``num_classes``, ``input_shape``, ``name``).

    Returns:
        A functional `keras.Model` returning logits (see `wide_resnet` for its taps).

    Example:
        ```python
        student = keras_kd.models.wrn_16_2(num_classes=100)
        ```
    """
    return wide_resnet(16, 2, **kwargs)


def wrn_40_2(**kwargs):
    """WRN-40-2, the RepDistiller teacher: 2,248,954 parameters, 327.6M
    multiply-accumulates per image (10 classes; `python -m keras_kd.models.complexity`).

    Args:
        **kwargs: `wide_resnet` arguments other than ``depth`` and ``width``
            (``num_classes``, ``input_shape``, ``name``).

    Returns:
        A functional `keras.Model` returning logits (see `wide_resnet` for its taps).

    Example:
        ```python
        teacher = keras_kd.models.wrn_40_2(num_classes=100)
        ```
    """
    return wide_resnet(40, 2, **kwargs)
