"""What a label is, decided in one place for training, checks, evaluation and export.

A model with C > 1 outputs takes class indices (shape ``(n,)`` or ``(n, 1)``,
integer values in ``[0, C)``) or rows of C class probabilities (one-hot or
soft, non-negative, summing to 1). A model with a single output is a binary
classifier on a sigmoid logit and takes labels in ``[0, 1]`` (0/1, or soft).
"""

import numpy as np
import tensorflow as tf

SPARSE, DENSE, BINARY = "class indices", "probability rows", "binary"
SUM_TOLERANCE = 1e-3  # rows of probabilities sum to 1 within it


def label_kind(label_shape, num_outputs):
    """``BINARY``, ``DENSE`` or ``SPARSE`` for labels of ``label_shape``.

    Args:
        label_shape: the labels' shape, e.g. ``(64,)``, ``(64, 1)`` or ``(64, 10)``.
        num_outputs: the model's number of outputs C.

    Returns:
        `BINARY` when C = 1, `DENSE` (probability rows) when the last axis has
        C entries, else `SPARSE` (class indices).

    Example:
        ```python
        label_kind((64, 10), 10)  # "probability rows"
        label_kind((64, 1), 10)   # "class indices"
        ```
    """
    if num_outputs == 1:
        return BINARY
    rank = len(label_shape)
    if rank >= 2 and label_shape[-1] == num_outputs:
        return DENSE
    return SPARSE


def _kind(y, logits):
    return label_kind(tuple(y.shape), logits.shape[-1])


def task_loss_per_sample(y, logits):
    """Cross-entropy of each sample from logits (sparse, dense or binary labels).

    Args:
        y: labels of any kind `label_kind` recognizes.
        logits: (batch, C) logits; (batch, 1) for a binary classifier.

    Returns:
        A float32 (batch,) tensor: softmax cross-entropy, or the sigmoid
        cross-entropy for a single logit.

    Example:
        ```python
        loss = keras.ops.mean(task_loss_per_sample(y, model(x)))
        ```
    """
    logits = tf.cast(logits, tf.float32)
    kind = _kind(y, logits)
    if kind == BINARY:
        y = tf.reshape(tf.cast(y, tf.float32), tf.shape(logits))
        return tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits), axis=-1
        )
    if kind == DENSE:
        return tf.nn.softmax_cross_entropy_with_logits(labels=tf.cast(y, tf.float32), logits=logits)
    labels = tf.cast(tf.reshape(y, tf.shape(logits)[:-1]), tf.int32)
    labels = tf.clip_by_value(labels, 0, logits.shape[-1] - 1)  # range checked by the guard
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def top1_correct(y, logits):
    """1.0 where the prediction is the label, else 0.0 (binary: logit > 0).

    Args:
        y: labels of any kind `label_kind` recognizes.
        logits: (batch, C) logits; (batch, 1) for a binary classifier.

    Returns:
        A float32 (batch,) tensor of 0.0 and 1.0.

    Example:
        ```python
        accuracy = float(keras.ops.mean(top1_correct(y, model(x))))
        ```
    """
    logits = tf.cast(logits, tf.float32)
    kind = _kind(y, logits)
    if kind == BINARY:
        predicted = tf.cast(tf.reshape(logits, [-1]) > 0, tf.int32)
        labels = tf.cast(tf.reshape(tf.cast(y, tf.float32), [-1]) > 0.5, tf.int32)
    else:
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
        if kind == DENSE:
            labels = tf.argmax(y, axis=-1, output_type=tf.int32)
        else:
            labels = tf.cast(tf.reshape(y, tf.shape(predicted)), tf.int32)
    return tf.cast(tf.equal(predicted, labels), tf.float32)


def label_fault(y, num_outputs):
    """In-graph check of a batch of labels: ``(fault, low, high)``.

    ``fault`` is True when a label is not of the accepted kind: a class index
    out of range or not an integer, a probability row that is negative or does
    not sum to 1, a binary label outside [0, 1], NaN or infinite. ``low`` and
    ``high`` are the smallest and largest label; when a label is not finite,
    ``low`` is the count of NaN and ``high`` is ``-(count of inf) - 1`` (so
    ``high < low`` says which case the message describes).
    """
    values = tf.cast(y, tf.float32)
    kind = label_kind(tuple(y.shape), num_outputs)
    finite = tf.reduce_all(tf.math.is_finite(values))
    nan = tf.reduce_sum(tf.cast(tf.math.is_nan(values), tf.float32))
    inf = tf.reduce_sum(tf.cast(tf.math.is_inf(values), tf.float32))
    low = tf.where(finite, tf.reduce_min(values), nan)
    high = tf.where(finite, tf.reduce_max(values), -inf - 1.0)
    if kind == BINARY:
        ok = (low >= 0.0) & (high <= 1.0)
    elif kind == DENSE:
        sums = tf.reduce_sum(values, axis=-1)
        ok = (low >= 0.0) & tf.reduce_all(tf.abs(sums - 1.0) <= SUM_TOLERANCE)
    else:
        integral = tf.reduce_all(tf.equal(values, tf.round(values)))
        ok = integral & (low >= 0.0) & (high <= num_outputs - 1)
    return tf.logical_not(ok & finite), low, high


def accepted(num_outputs):
    """What labels a model with ``num_outputs`` outputs accepts, in words."""
    if num_outputs == 1:
        return "labels in [0, 1] (0/1 for a single-logit binary classifier)"
    return (
        f"class indices in [0, {num_outputs - 1}] of shape (n,) or (n, 1), or rows of "
        f"{num_outputs} class probabilities (one-hot or soft, non-negative, summing to 1)"
    )


def non_finite_summary(values):
    """What is not finite in ``values``, in words: ``"2 inf and no NaN (first at
    sample 3)"``."""
    values = np.asarray(values, dtype="float64")
    nan, inf = np.isnan(values), np.isinf(values)
    counts = [
        f"{int(n)} {word}" if n else f"no {word}"
        for word, n in (("inf", inf.sum()), ("NaN", nan.sum()))
    ]
    per_sample = (nan | inf).reshape(len(values), -1).any(axis=1) if values.ndim else nan | inf
    first = int(np.argmax(per_sample)) if values.ndim else 0
    return f"{' and '.join(counts)} (first at sample {first})"


def check_label_array(y, num_outputs, argument="y"):
    """Raises a ValueError unless the NumPy labels ``y`` suit the model.

    The message names ``argument``, what was received and what is accepted
    (class indices, probability rows or 0/1 for a single logit).

    Args:
        y: labels (array-like).
        num_outputs: the model's number of outputs C.
        argument: the argument name used in the message.

    Raises:
        ValueError: non-numeric labels, NaN/inf, indices out of ``[0, C)``,
            rows that are not distributions, or a wrong shape.

    Example:
        ```python
        check_label_array(y_train, num_outputs=10, argument="y_train")
        ```
    """
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise ValueError(
            f"`{argument}` must hold numbers: {accepted(num_outputs)}. Received: "
            f"{argument} of dtype {y.dtype} (e.g. {y.ravel()[:1].tolist()}); map class "
            "names to indices first"
        )
    if y.size == 0:
        return
    values = y.astype("float64")
    kind = label_kind(y.shape, num_outputs)
    if kind == SPARSE and y.ndim >= 2 and y.shape[-1] != 1:
        raise ValueError(
            f"`{argument}` must be {accepted(num_outputs)}. Received: {argument} of shape "
            f"{y.shape} for a model with {num_outputs} outputs"
        )
    if kind == BINARY and y.ndim >= 2 and y.shape[-1] != 1:
        raise ValueError(
            f"`{argument}` for a single-logit model must have shape (n,) or (n, 1) with "
            f"{accepted(1)}. Received: {argument} of shape {y.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"`{argument}` must not contain NaN or inf: {accepted(num_outputs)}. Received: "
            f"{argument} with {non_finite_summary(values)}"
        )
    if kind == BINARY:
        bad = (values < 0) | (values > 1)
    elif kind == DENSE:
        row_bad = (values.min(axis=-1) < 0) | (np.abs(values.sum(axis=-1) - 1) > SUM_TOLERANCE)
        if np.any(row_bad):
            row = values[np.argmax(row_bad)]
            raise ValueError(
                f"`{argument}` rows must be class probabilities (non-negative, summing to "
                f"1): {accepted(num_outputs)}. Received: a row {np.round(row, 4).tolist()} "
                f"summing to {row.sum():.4g}"
            )
        return
    else:
        bad = (values != np.round(values)) | (values < 0) | (values > num_outputs - 1)
    if np.any(bad):
        raise ValueError(
            f"`{argument}` must be {accepted(num_outputs)}. Received: {argument} from "
            f"{values.min():g} to {values.max():g}, e.g. {values[bad].ravel()[0]:g}"
        )


def label_indices(y, num_outputs):
    """NumPy class indices (binary: 0/1) of a batch of labels, for evaluation.

    Args:
        y: labels of any kind `label_kind` recognizes.
        num_outputs: the model's number of outputs C.

    Returns:
        An int64 (n,) array: the index, the argmax of a probability row, or
        ``label > 0.5`` for a single logit.

    Example:
        ```python
        label_indices(np.eye(3)[[2, 0]], 3)  # array([2, 0])
        ```
    """
    y = np.asarray(y)
    kind = label_kind(y.shape, num_outputs)
    if kind == BINARY:
        return (y.reshape(len(y)) > 0.5).astype("int64")
    if kind == DENSE:
        return y.reshape(len(y), -1).argmax(-1)
    return y.reshape(len(y)).astype("int64")


def predicted_indices(logits):
    """NumPy predicted classes from logits (binary: logit > 0).

    Args:
        logits: (n, C) logits, or (n, 1) for a binary classifier.

    Returns:
        An int64 (n,) array of class indices.

    Example:
        ```python
        accuracy = (predicted_indices(model.predict(x)) == label_indices(y, 10)).mean()
        ```
    """
    logits = np.asarray(logits)
    if logits.shape[-1] == 1:
        return (logits.reshape(len(logits)) > 0).astype("int64")
    return logits.argmax(-1)


__all__ = [
    "BINARY",
    "DENSE",
    "SPARSE",
    "check_label_array",
    "label_indices",
    "label_kind",
    "predicted_indices",
    "task_loss_per_sample",
    "top1_correct",
]
