"""Image-size checks shared by the loaders."""

import numbers

import tensorflow as tf


def check_image_size(image_size):
    """Returns ``image_size`` as ``(height, width)``, or None; raises if malformed."""
    if image_size is None:
        return None
    try:
        height, width = image_size
    except (TypeError, ValueError):
        height = width = None
    if not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0
        for v in (height, width)
    ):
        raise ValueError(
            "`image_size` must be None (keep the stored size) or (height, width) "
            f"with two positive integers. Received: image_size={image_size!r}"
        )
    return int(height), int(width)


def resize(image, image_size):
    """Resizes a float32 image to ``image_size`` (bilinear, as Keras's loaders do)."""
    return tf.image.resize(image, image_size)
