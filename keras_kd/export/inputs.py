"""Checks of what `to_tflite` is given, made before anything is converted.

Images of another shape than the model's input would calibrate int8 on the
wrong statistics or fail deep inside Keras; labels that do not pair with the
images would fail in NumPy. Each is refused here with the argument's name.
"""

import numbers
import os

import numpy as np
import tensorflow as tf

REPRESENTATIVE_SAMPLES = 200
IMAGE_RANK = 3  # height, width, channels


def input_shape(model):
    """The model's input shape without the batch axis, e.g. ``(32, 32, 3)``."""
    return tuple(model.inputs[0].shape[1:])


def fits(shape, expected):
    """Whether an image ``shape`` fits a model input shape (None matches any size)."""
    return len(shape) == len(expected) and all(
        want is None or got == want for got, want in zip(shape, expected, strict=True)
    )


def _check_shape(name, shape, expected):
    if not fits(tuple(shape), expected):
        raise ValueError(
            f"`{name}` images must have the model's input shape {expected} (without the "
            f"batch axis). Received: {name} with images of shape {tuple(shape)}"
        )


def check_path(path):
    """Refuses an output ``path`` that is an existing folder."""
    if os.path.isdir(path):
        raise ValueError(
            f"`path` must be the .tflite file to write, not a folder. Received: path={str(path)!r}"
        )


def check_samples_count(check_samples):
    """Returns ``check_samples`` if it is None or an integer >= 1, else raises."""
    if check_samples is None:
        return None
    if (
        isinstance(check_samples, bool)
        or not isinstance(check_samples, numbers.Integral)
        or check_samples < 1
    ):
        raise ValueError(
            "`check_samples` must be an integer >= 1, or None for all of `check_data`. "
            f"Received: check_samples={check_samples!r}"
        )
    return int(check_samples)


def _images(data, rank):
    """Yields single float32 images (of ``rank`` axes when unbatched) from arrays,
    (x, y) pairs or datasets, batched or not."""
    if isinstance(data, tf.data.Dataset):
        for element in data:
            x = element[0] if isinstance(element, tuple | list) else element
            x = np.asarray(x, dtype=np.float32)
            yield from (x[None] if x.ndim == rank else x)
    else:
        x = data[0] if isinstance(data, tuple | list) else data
        yield from np.asarray(x, dtype=np.float32)


def representative_images(data, shape=None, limit=REPRESENTATIVE_SAMPLES):
    """Up to ``limit`` calibration images as a (N, ...) float32 array.

    Args:
        data: an array of images, an (x, y) pair or a dataset.
        shape: the model's input shape; images of another shape are refused.
        limit: the most images to take.
    """
    images = []
    for image in _images(data, IMAGE_RANK if shape is None else len(shape)):
        if shape is not None:
            _check_shape("representative_data", image.shape, shape)
        images.append(image)
        if len(images) == limit:
            break
    if not images:
        raise ValueError(
            "`representative_data` must contain at least one image. Received: an empty dataset"
        )
    return np.stack(images)


def _pair(x, y, what):
    x, y = np.asarray(x, np.float32), np.asarray(y)
    if y.ndim == 0 or len(y) != len(x):
        raise ValueError(
            "`check_data` must pair each image with one label (the same number of both). "
            f"Received: check_data with {len(x)} images and "
            f"{'a scalar' if y.ndim == 0 else len(y)} labels{what}"
        )
    return x, y


def labelled(check_data, shape, limit=None):
    """``(images, labels)`` arrays from (x, y) arrays or a dataset of pairs
    (`keras_kd.labels.label_indices` reads the labels).

    Args:
        check_data: an (x, y) pair of arrays or a dataset of (x, y) pairs,
            batched or not; labels are class indices or one-hot rows.
        shape: the model's input shape; images of another shape are refused.
        limit: keep the first ``limit`` samples (None: all).
    """
    if isinstance(check_data, tf.data.Dataset):
        xs, ys = [], []
        for element in check_data:
            if not isinstance(element, tuple | list) or len(element) < 2:
                raise ValueError(
                    "`check_data` must be a dataset of (images, labels) pairs. Received: "
                    f"check_data with elements of type {type(element).__name__}"
                )
            x, y = np.asarray(element[0], np.float32), np.asarray(element[1])
            if x.ndim == len(shape):  # an unbatched element
                x, y = x[None], y[None]
            x, y = _pair(x, y, " in one batch")
            xs.append(x)
            ys.append(y.reshape(len(y), -1))
            if limit is not None and sum(len(b) for b in xs) >= limit:
                break
        if not xs:
            raise ValueError("`check_data` must not be empty. Received: an empty dataset")
        x, y = np.concatenate(xs), np.concatenate(ys)
    elif isinstance(check_data, tuple | list) and len(check_data) == 2:
        x, y = _pair(*check_data, "")
    else:
        raise ValueError(
            "`check_data` must be an (images, labels) pair or a dataset of pairs. "
            f"Received: check_data of type {type(check_data).__name__}"
        )
    _check_shape("check_data", x.shape[1:], shape)
    return x[:limit], y[:limit]
