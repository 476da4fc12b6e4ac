"""Spatial alignment of two NHWC feature maps (used by AT, NST and FSP).

When two maps differ in height/width, the larger is average-pooled down to
the smaller size; the sizes must divide.
"""

import tensorflow as tf


def _hw(shape):
    return tuple(shape[1:3])


def check_alignable(shape_a, shape_b, name_a="teacher", name_b="student"):
    """Raises a ValueError unless the two NHWC shapes can be spatially aligned.

    Returns the target (height, width).
    """
    if len(shape_a) != 4 or len(shape_b) != 4:
        raise ValueError(
            "Spatial alignment needs two 4-D (batch, height, width, channels) "
            f"feature maps. Received: {name_a} shape {tuple(shape_a)}, "
            f"{name_b} shape {tuple(shape_b)}"
        )
    (ha, wa), (hb, wb) = _hw(shape_a), _hw(shape_b)
    if None in (ha, wa, hb, wb):
        raise ValueError(
            "Spatial alignment needs static heights and widths. Received: "
            f"{name_a} shape {tuple(shape_a)}, {name_b} shape {tuple(shape_b)}"
        )
    h, w = min(ha, hb), min(wa, wb)
    if ha % h or hb % h or wa % w or wb % w:
        raise ValueError(
            "Feature maps cannot be spatially aligned: the larger is average-pooled "
            "to the smaller, so the sizes must divide in both height and width. "
            f"Received: {name_a} shape {tuple(shape_a)}, {name_b} shape {tuple(shape_b)}"
        )
    return h, w


def pool_to(x, size):
    """Average-pools NHWC ``x`` down to spatial ``size`` (an integer factor)."""
    h, w = _hw(x.shape)
    if (h, w) == tuple(size):
        return x
    factor = (h // size[0], w // size[1])
    return tf.nn.avg_pool2d(x, ksize=factor, strides=factor, padding="VALID")


def align_spatial(a, b):
    """Returns ``(a, b)`` with the larger map average-pooled to the smaller size."""
    size = check_alignable(a.shape, b.shape, "first", "second")
    return pool_to(a, size), pool_to(b, size)
