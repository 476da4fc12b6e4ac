"""Construction-time checks of (student layer, teacher layer) pairs."""

from keras_kd.losses._align import check_alignable


def require_pairs(distiller, minimum=1, exactly=None):
    """Raises unless the distiller has the number of layer pairs it needs."""
    count = len(distiller.student_layers)
    if count < minimum or (exactly is not None and count != exactly):
        wanted = f"exactly {exactly}" if exactly is not None else f"at least {minimum}"
        raise ValueError(
            f"{type(distiller).__name__} needs {wanted} (student layer, teacher layer) "
            f"pair(s). Received: student_layers={distiller.student_layers}, "
            f"teacher_layers={distiller.teacher_layers}"
        )


def pairs(distiller):
    """``(student_layer, teacher_layer)`` tuples."""
    return list(zip(distiller.student_layers, distiller.teacher_layers, strict=True))


def check_pairs_alignable(distiller):
    """Raises unless every pair of 4-D maps can be spatially aligned."""
    for s, t in pairs(distiller):
        check_alignable(
            distiller.feature_shape("teacher", t),
            distiller.feature_shape("student", s),
            f"teacher layer {t!r}",
            f"student layer {s!r}",
        )


def check_same_spatial_size(distiller):
    """Raises unless every pair has 4-D maps of equal height and width."""
    for s, t in pairs(distiller):
        s_shape, t_shape = (
            distiller.feature_shape("student", s),
            distiller.feature_shape("teacher", t),
        )
        if len(s_shape) != 4 or len(t_shape) != 4 or s_shape[1:3] != t_shape[1:3]:
            raise ValueError(
                f"{type(distiller).__name__} needs 4-D feature maps of the same height and "
                f"width in each pair. Received: student layer {s!r} shape {s_shape}, "
                f"teacher layer {t!r} shape {t_shape}"
            )
