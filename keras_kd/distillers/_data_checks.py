"""Checks of the training data against the deployable model, before training."""

import keras
import numpy as np
import tensorflow as tf

from keras_kd import labels
from keras_kd.distillers._cached import LABELS_KEY


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


def _require_labels(y):
    if y is None:
        raise ValueError(
            "`y` is required: keras_kd schemes train on labels (class indices, class "
            "probability rows, or 0/1 for a single-logit model). Received: y=None"
        )


def _check_label_spec(spec, output_shape):
    shape, num_outputs, positions = _static_shape(spec), output_shape[-1], output_shape[1:-1]
    if spec.dtype == tf.string:
        raise ValueError(
            f"`y` must hold numbers: {labels.accepted(num_outputs, positions)}. Received: a "
            "dataset with string labels; map class names to indices first (e.g. with "
            "tf.keras.layers.StringLookup)"
        )
    if shape is None:
        return
    if positions:
        accepted = [(*positions, num_outputs), positions, (*positions, 1)]
        if any(labels.fits(shape[1:], a) for a in accepted):
            return
    elif len(shape) < 2 or shape[-1] in (None, 1, num_outputs):
        return
    raise ValueError(
        f"`y` must be {labels.accepted(num_outputs, positions)}. Received: y with batches of "
        f"shape {shape} for a model with {num_outputs} outputs"
    )


def _lengths(x):
    return [len(a) for a in tf.nest.flatten(x)]


def check_arrays(x, y, model, class_labels=True):
    """Validates in-memory inputs (one array, a list or a dict of arrays) and every label
    (as class labels when ``class_labels``, else only their count)."""
    _require_labels(y)
    output_shape = tuple(model.outputs[0].shape)
    arrays = [np.asarray(a) for a in tf.nest.flatten(x)]
    if len(arrays) == 1 and len(model.inputs) == 1:
        _check_inputs(arrays[0].shape, tuple(model.inputs[0].shape[1:]))
    for a in arrays:
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            bad = np.flatnonzero(~np.isfinite(a.reshape(len(a), -1)).all(axis=1))
            raise ValueError(
                f"`x` must hold finite numbers. Received: NaN or inf in {len(bad)} sample(s), "
                f"e.g. index {bad[0]}; clean or drop them before training"
            )
    lengths = {len(a) for a in arrays}
    y_arrays = tf.nest.flatten(y)
    if len(lengths) != 1 or not lengths.pop():
        raise ValueError(
            f"`x` must not be empty and its arrays must have one length. Received: x with "
            f"lengths {[len(a) for a in arrays]}"
        )
    if len(y_arrays) != 1:
        raise ValueError(f"`y` must be one array of labels. Received: y with {len(y_arrays)} parts")
    y = np.asarray(y_arrays[0])
    if class_labels:
        labels.check_label_array(y, output_shape[-1], positions=output_shape[1:-1])
    if len(y) != len(arrays[0]):
        raise ValueError(
            f"`x` and `y` must have the same number of samples. Received: {len(arrays[0])} "
            f"inputs, {len(y)} labels"
        )


def check_dataset(ds, model, class_labels=True):
    """Validates a dataset statically (element spec, cardinality): no iteration."""
    if int(ds.cardinality()) == 0:
        raise ValueError("`x` must not be an empty dataset. Received: a dataset with 0 elements")
    spec = ds.element_spec
    if not isinstance(spec, tuple) or len(spec) < 2:
        _require_labels(None)
    y_spec = spec[1]
    if isinstance(y_spec, dict) and LABELS_KEY in y_spec:
        y_spec = y_spec[LABELS_KEY]
    if len(model.inputs) == 1 and hasattr(spec[0], "shape"):
        _check_inputs(_static_shape(spec[0]), tuple(model.inputs[0].shape[1:]))
    if class_labels and hasattr(y_spec, "shape"):
        _check_label_spec(y_spec, tuple(model.outputs[0].shape))


def check_sample_weight(sample_weight):
    """Raises unless in-memory sample weights are finite and non-negative."""
    if sample_weight is None or isinstance(sample_weight, tf.data.Dataset):
        return
    w = np.asarray(sample_weight, dtype="float64")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(
            "`sample_weight` must hold finite, non-negative numbers. Received: values from "
            f"{np.nanmin(w):g} to {np.nanmax(w):g}, {int(np.sum(~np.isfinite(w)))} NaN or inf"
        )


def check_fit_data(model, x, y, sample_weight=None, class_labels=True):
    """Raises a ValueError for data the deployable ``model`` cannot train on
    (labels are checked as class labels when ``class_labels``)."""
    check_sample_weight(sample_weight)
    if isinstance(x, tf.data.Dataset):
        check_dataset(x, model, class_labels)
    elif x is not None and all(
        isinstance(a, np.ndarray | list) or keras.ops.is_tensor(a) for a in tf.nest.flatten(x)
    ):
        check_arrays(x, y, model, class_labels)
