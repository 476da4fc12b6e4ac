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


def check_label_structure(y, trainer):
    """Labels of a model with several outputs: a dict with an entry for every
    output the compiled loss reads, or a list or tuple with one per output."""
    names = trainer.output_names
    if names is None or trainer.compiled_task_loss is None:
        return
    needed = trainer.compiled_task_loss.outputs
    if isinstance(y, dict):
        missing = [name for name in needed if name not in y]
        if not missing:
            return
        received = f"y with keys {sorted(y)}"
    elif isinstance(y, list | tuple) and len(y) == len(names):
        return
    else:
        missing = needed
        received = f"y with {len(y)} parts" if isinstance(y, list | tuple) else "one array"
    raise ValueError(
        f"`y` must give the labels of every output with a loss, {missing} missing: a dict "
        f"keyed by the student's output names {names}, or a list with one entry per output "
        f"in that order. Received: {received}"
    )


def check_arrays(x, y, trainer, class_labels=True):
    """Validates in-memory inputs (one array, a list or a dict of arrays) and every label
    (the logits' as class labels when ``class_labels``, else only their count)."""
    _require_labels(y)
    check_label_structure(y, trainer)
    model, output_shape = trainer.deployable, trainer.logits_shape
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
    if len(y_arrays) != 1 and trainer.logits_output is None:
        raise ValueError(f"`y` must be one array of labels. Received: y with {len(y_arrays)} parts")
    if class_labels:
        y_logits = np.asarray(trainer.logit_labels(y))
        labels.check_label_array(y_logits, output_shape[-1], positions=output_shape[1:-1])
    counts = sorted({len(np.asarray(part)) for part in y_arrays})
    if counts != [len(arrays[0])]:
        raise ValueError(
            f"`x` and `y` must have the same number of samples. Received: {len(arrays[0])} "
            f"inputs, {' and '.join(map(str, counts))} labels"
        )


def check_dataset(ds, trainer, class_labels=True):
    """Validates a dataset statically (element spec, cardinality): no iteration."""
    if int(ds.cardinality()) == 0:
        raise ValueError("`x` must not be an empty dataset. Received: a dataset with 0 elements")
    spec = ds.element_spec
    if not isinstance(spec, tuple) or len(spec) < 2:
        _require_labels(None)
    y_spec = spec[1]
    if isinstance(y_spec, dict) and LABELS_KEY in y_spec:
        y_spec = y_spec[LABELS_KEY]
    check_label_structure(y_spec, trainer)
    inputs = trainer.deployable.inputs
    if len(inputs) == 1 and hasattr(spec[0], "shape"):
        _check_inputs(_static_shape(spec[0]), tuple(inputs[0].shape[1:]))
    y_spec = trainer.logit_labels(y_spec)
    if class_labels and hasattr(y_spec, "shape"):
        _check_label_spec(y_spec, trainer.logits_shape)


def check_sample_weight(sample_weight):
    """Raises unless in-memory sample weights (one array, or one per output) are
    finite and non-negative."""
    if sample_weight is None or isinstance(sample_weight, tf.data.Dataset):
        return
    parts = [np.asarray(p, dtype="float64").ravel() for p in tf.nest.flatten(sample_weight)]
    w = np.concatenate(parts) if parts else np.zeros(0)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        finite = w[np.isfinite(w)]
        low, high = (finite.min() + 0.0, finite.max() + 0.0) if finite.size else (0.0, 0.0)
        raise ValueError(
            "`sample_weight` must hold finite, non-negative numbers. Received: finite values "
            f"from {low:g} to {high:g} ({int(np.sum(w < 0))} negative), "
            f"{int(np.sum(~np.isfinite(w)))} NaN or inf"
        )


def check_fit_data(trainer, x, y, sample_weight=None):
    """Raises a ValueError for data the ``trainer``'s deployable model cannot
    train on (the logits' labels are checked as class labels when the trainer
    `checks_class_labels`)."""
    check_sample_weight(sample_weight)
    class_labels = trainer.checks_class_labels
    if isinstance(x, tf.data.Dataset):
        check_dataset(x, trainer, class_labels)
    elif x is not None and all(
        isinstance(a, np.ndarray | list) or keras.ops.is_tensor(a) for a in tf.nest.flatten(x)
    ):
        check_arrays(x, y, trainer, class_labels)


def check_validation_data(trainer, validation_data):
    """`check_fit_data` for `fit`'s ``validation_data`` (a dataset, or a tuple
    ``(x, y)`` or ``(x, y, sample_weight)``), before the first epoch trains."""
    if validation_data is None:
        return
    if isinstance(validation_data, tf.data.Dataset):
        parts = (validation_data, None, None)
    elif isinstance(validation_data, tuple | list) and len(validation_data) in (2, 3):
        parts = (*validation_data, None)[:3]
    else:
        return  # Keras's own check: a generator or PyDataset
    try:
        check_fit_data(trainer, *parts)
    except ValueError as error:
        raise ValueError(f"`validation_data` is refused: {error}") from None
