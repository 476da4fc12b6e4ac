"""Connectors that map a student feature to a teacher feature's shape.

Used as the FitNets regressor (a Conv2D for image maps, a Conv1D for
sequences, a dense layer for vectors) and as the activation-boundary
connector (1x1 conv + BatchNorm).
"""

import keras


def _stride(student_shape, teacher_shape, student_layer, teacher_layer):
    """The integer factor between the student's and the teacher's spatial (or time) sizes."""
    factors = set()
    for s, t in zip(student_shape[1:-1], teacher_shape[1:-1], strict=True):
        if s == t:
            factors.add(1)
        elif s is None or t is None or s % t:
            factors.add(None)
        else:
            factors.add(s // t)
    if len(factors) != 1 or None in factors:
        raise ValueError(
            "A connector maps the student feature onto the teacher's spatial size with a "
            "strided convolution, so each of the student's spatial sizes (height and "
            "width, or steps) must be the same integer multiple of the teacher's. "
            f"Received: student layer {student_layer!r} shape {tuple(student_shape)}, "
            f"teacher layer {teacher_layer!r} shape {tuple(teacher_shape)}"
        )
    return factors.pop()


def build_connector(
    student_shape,
    teacher_shape,
    kernel_size=1,
    batch_norm=False,
    relu=False,
    name="connector",
    student_layer="student",
    teacher_layer="teacher",
    method="A connector",
):
    """A small trainable model from ``student_shape`` to ``teacher_shape``.

    4-D features (images) get a Conv2D and 3-D features (sequences, e.g. a
    Conv1D audio model's maps) a Conv1D with the teacher's channel count
    (strided when the student map is an integer multiple larger), optionally
    followed by BatchNormalization; 2-D features get a dense layer.

    Args:
        student_shape: the student feature's shape (batch first).
        teacher_shape: the teacher feature's shape (batch first).
        kernel_size: convolution kernel size (1 or 3 typically).
        batch_norm: append BatchNormalization (the AB connector).
        relu: append a ReLU (RepDistiller's FitNets regressor, for post-ReLU hints).
        name: model name.
        student_layer: student layer name, for error messages.
        teacher_layer: teacher layer name, for error messages.
        method: the method that asked for the connector, for error messages.

    Returns:
        A built `keras.Sequential`.
    """
    student_shape, teacher_shape = tuple(student_shape), tuple(teacher_shape)
    if len(student_shape) != len(teacher_shape) or len(student_shape) not in (2, 3, 4):
        raise ValueError(
            f"`student_layers` and `teacher_layers` must name features of the same rank for "
            f"{method}: vectors (batch, features), sequences (batch, steps, channels) or "
            "maps (batch, height, width, channels), which its connector maps with a "
            "Dense, Conv1D or Conv2D layer. Received: student_layers entry "
            f"{student_layer!r} of shape {student_shape}, teacher_layers entry "
            f"{teacher_layer!r} of shape {teacher_shape}"
        )
    layers = [keras.Input(student_shape[1:])]
    if len(student_shape) == 2:
        layers.append(keras.layers.Dense(teacher_shape[-1], name=f"{name}_dense"))
    else:
        strides = _stride(student_shape, teacher_shape, student_layer, teacher_layer)
        conv = keras.layers.Conv1D if len(student_shape) == 3 else keras.layers.Conv2D
        layers.append(
            conv(
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
