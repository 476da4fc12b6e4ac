"""Checks of the training data against the deployable model, before training."""

import keras
import numpy as np
import tensorflow as tf

from keras_kd.distillers._cached import LABELS_KEY

LABEL_RANGE_MARKER = "keras_kd: label out of range"


def _static_shape(spec):
    return tuple(spec.shape.as_list()) if hasattr(spec, "shape") else None


def _check_inputs(shape, expected):
    got = tuple(shape[1:]) if shape else None
    if got is not None and len(got) == len(expected):
        if all(g is None or e is None or g == e for g, e in zip(got, expected, strict=True)):
            return
    raise ValueError(
        f"`x` must hold inputs of shape (batch, {', '.join(str(e) for e in expected)}) for "
        f"this model. Received: x with batches of shape {shape}"
    )


def _check_label_shape(shape, num_classes):
    if shape is None:
        raise ValueError(
            "`y` is required: keras_kd schemes train on labels (integer class indices or "
            "one-hot vectors). Received: y=None"
        )
    if len(shape) >= 2 and shape[-1] not in (None, 1) and shape[-1] != num_classes:
        raise ValueError(
            f"One-hot `y` must have {num_classes} columns, one per class of the model's "
            f"output. Received: y with batches of shape {shape}"
        )


def check_arrays(x, y, input_shape, num_classes):
    """Validates array inputs and every label."""
    x = np.asarray(x)
    _check_inputs(x.shape, input_shape)
    if y is None:
        _check_label_shape(None, num_classes)
    y = np.asarray(y)
    _check_label_shape(y.shape, num_classes)
    if len(x) == 0:
        raise ValueError("`x` must not be empty. Received: x with 0 samples")
    if len(y) != len(x):
        raise ValueError(
            f"`x` and `y` must have the same number of samples. Received: {len(x)} inputs, "
            f"{len(y)} labels"
        )
    if y.ndim >= 2 and y.shape[-1] == num_classes:
        return
    if not np.all(np.equal(np.mod(y, 1), 0)):
        raise ValueError(
            "Integer class labels (or one-hot vectors) are expected. Received: y with "
            f"non-integer values such as {y[np.mod(y, 1) != 0].ravel()[0]}"
        )
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(
            f"`y` labels must be class indices in [0, {num_classes - 1}]. Received: labels "
            f"from {y.min()} to {y.max()}"
        )


def check_dataset(ds, input_shape, num_classes):
    """Validates a dataset statically (element spec, cardinality): no iteration."""
    if int(ds.cardinality()) == 0:
        raise ValueError("`x` must not be an empty dataset. Received: a dataset with 0 elements")
    spec = ds.element_spec
    if not isinstance(spec, tuple) or len(spec) < 2:
        _check_label_shape(None, num_classes)
    labels = spec[1][LABELS_KEY] if isinstance(spec[1], dict) and LABELS_KEY in spec[1] else spec[1]
    _check_inputs(_static_shape(spec[0]), input_shape)
    _check_label_shape(_static_shape(labels), num_classes)


def check_fit_data(model, x, y):
    """Raises a ValueError for data the deployable ``model`` cannot train on."""
    input_shape = tuple(model.inputs[0].shape[1:])
    num_classes = model.outputs[0].shape[-1]
    if isinstance(x, tf.data.Dataset):
        check_dataset(x, input_shape, num_classes)
    elif isinstance(x, np.ndarray | list) or keras.ops.is_tensor(x):
        check_arrays(x, y, input_shape, num_classes)


def assert_labels_in_range(y, num_classes):
    """In-graph check that sparse labels are class indices (one-hot passes)."""
    if y.shape.rank is not None and y.shape.rank >= 2 and y.shape[-1] == num_classes:
        return tf.no_op()
    labels = tf.cast(y, tf.int64)
    return tf.debugging.Assert(
        tf.reduce_all((labels >= 0) & (labels < num_classes)),
        [LABEL_RANGE_MARKER, num_classes, tf.reduce_min(labels), tf.reduce_max(labels)],
    )
