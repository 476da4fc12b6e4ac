"""Connectors that map a student feature to a teacher feature's shape.

Used as the FitNets regressor (a conv, or a dense layer for vectors) and as
the activation-boundary connector (1x1 conv + BatchNorm).
"""

import keras


def _stride(student_shape, teacher_shape, student_layer, teacher_layer):
    sh, sw = student_shape[1:3]
    th, tw = teacher_shape[1:3]
    if sh % th or sw % tw or sh // th != sw // tw:
        raise ValueError(
            "A connector maps the student feature onto the teacher's spatial size with a "
            "strided convolution, so the student's height and width must be the same "
            "integer multiple of the teacher's. Received: student layer "
            f"{student_layer!r} shape {tuple(student_shape)}, teacher layer "
            f"{teacher_layer!r} shape {tuple(teacher_shape)}"
        )
    return sh // th


def build_connector(
    student_shape,
    teacher_shape,
    kernel_size=1,
    batch_norm=False,
    relu=False,
    name="connector",
    student_layer="student",
    teacher_layer="teacher",
):
    """A small trainable model from ``student_shape`` to ``teacher_shape``.

    4-D features get a convolution with the teacher's channel count (strided
    when the student map is an integer multiple larger), optionally followed
    by BatchNormalization; 2-D features get a dense layer.

    Args:
        student_shape: the student feature's shape (batch first).
        teacher_shape: the teacher feature's shape (batch first).
        kernel_size: convolution kernel size (1 or 3 typically).
        batch_norm: append BatchNormalization (the AB connector).
        relu: append a ReLU (RepDistiller's FitNets regressor, for post-ReLU hints).
        name: model name.
        student_layer: student layer name, for error messages.
        teacher_layer: teacher layer name, for error messages.

    Returns:
        A built `keras.Sequential`.
    """
    student_shape, teacher_shape = tuple(student_shape), tuple(teacher_shape)
    if len(student_shape) != len(teacher_shape) or len(student_shape) not in (2, 4):
        raise ValueError(
            "A connector maps a 4-D feature map to a 4-D map or a vector to a vector. "
            f"Received: student layer {student_layer!r} shape {student_shape}, teacher "
            f"layer {teacher_layer!r} shape {teacher_shape}"
        )
    layers = [keras.Input(student_shape[1:])]
    if len(student_shape) == 2:
        layers.append(keras.layers.Dense(teacher_shape[-1], name=f"{name}_dense"))
    else:
        strides = _stride(student_shape, teacher_shape, student_layer, teacher_layer)
        layers.append(
            keras.layers.Conv2D(
                teacher_shape[-1],
                kernel_size,
                strides=strides,
                padding="same",
                use_bias=not batch_norm,
                name=f"{name}_conv",
            )
        )
        if batch_norm:
            layers.append(keras.layers.BatchNormalization(name=f"{name}_bn"))
        if relu:
            layers.append(keras.layers.ReLU(name=f"{name}_relu"))
    return keras.Sequential(layers, name=name)
