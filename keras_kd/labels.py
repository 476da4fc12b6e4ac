"""What a label is, decided in one place for training, checks, evaluation and export.

A model with C > 1 outputs takes class indices (shape ``(n,)`` or ``(n, 1)``,
integer values in ``[0, C)``) or rows of C class probabilities (one-hot or
soft, non-negative, summing to 1). A model with a single output is a binary
classifier on a sigmoid logit and takes labels in ``[0, 1]`` (0/1, or soft).

A model whose logits have positions, ``(n, *positions, C)`` (a pixel of a
segmentation map, a token of a sequence), takes one such label per
position: ``(n, *positions)`` or ``(n, *positions, 1)`` class indices, or
``(n, *positions, C)`` probability rows.
"""

import numpy as np
import tensorflow as tf

SPARSE, DENSE, BINARY = "class indices", "probability rows", "binary"
SUM_TOLERANCE = 1e-3  # rows of probabilities sum to 1 within it


def label_kind(label_shape, num_outputs, output_rank=2):
    """``BINARY``, ``DENSE`` or ``SPARSE`` for labels of ``label_shape``.

    Args:
        label_shape: the labels' shape, e.g. ``(64,)``, ``(64, 1)`` or ``(64, 10)``.
        num_outputs: the model's number of outputs C.
        output_rank: the rank of the model's logits with the batch axis: 2
            for ``(n, C)``, 4 for a segmentation map ``(n, H, W, C)``.

    Returns:
        `BINARY` when C = 1, `DENSE` (probability rows) when the labels have
        the logits' rank and C entries on the last axis, else `SPARSE`
        (class indices).

    Example:
        ```python
        label_kind((64, 10), 10)  # "probability rows"
        label_kind((64, 1), 10)   # "class indices"
        label_kind((8, 32, 32), 32, output_rank=4)  # "class indices", one per pixel
        ```
    """
    if num_outputs == 1:
        return BINARY
    rank = len(label_shape)
    if rank >= 2 and rank >= output_rank and label_shape[-1] == num_outputs:
        return DENSE
    return SPARSE


def _kind(y, logits):
    return label_kind(tuple(y.shape), logits.shape[-1], logits.shape.rank)


def task_loss_per_sample(y, logits):
    """Cross-entropy of each sample from logits (sparse, dense or binary labels).

    Args:
        y: labels of any kind `label_kind` recognizes.
        logits: (batch, C) logits; (batch, 1) for a binary classifier;
            (batch, *positions, C) for one prediction per pixel or token.

    Returns:
        A float32 (batch,) tensor (one entry per position: (batch,
        *positions)): softmax cross-entropy, or the sigmoid cross-entropy for
        a single logit.

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
        logits: (batch, C) logits; (batch, 1) for a binary classifier;
            (batch, *positions, C) for one prediction per pixel or token.

    Returns:
        A float32 tensor of 0.0 and 1.0, shape (batch,) or (batch, *positions).

    Example:
        ```python
        accuracy = float(keras.ops.mean(top1_correct(y, model(x))))
        ```
    """
    logits = tf.cast(logits, tf.float32)
    kind = _kind(y, logits)
    if kind == BINARY:
        predicted = tf.cast(logits[..., 0] > 0, tf.int32)
        y = tf.reshape(tf.cast(y, tf.float32), tf.shape(predicted))
        labels = tf.cast(y > 0.5, tf.int32)
    else:
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
        if kind == DENSE:
            labels = tf.argmax(y, axis=-1, output_type=tf.int32)
        else:
            labels = tf.cast(tf.reshape(y, tf.shape(predicted)), tf.int32)
    return tf.cast(tf.equal(predicted, labels), tf.float32)


def label_fault(y, num_outputs, output_rank=2):
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


def accepted(num_outputs, positions=()):
    """What labels a model with ``num_outputs`` outputs accepts, in words.

    Args:
        num_outputs: the model's number of outputs C.
        positions: the static positions of its logits, ``(H, W)`` for
            ``(n, H, W, C)`` logits (``()`` for one prediction per sample).
    """
    if positions:
        where = ", ".join("?" if p is None else str(p) for p in positions)
        if num_outputs == 1:
            return f"one label in [0, 1] per position, shape (n, {where}) or (n, {where}, 1)"
        return (
            f"one class index in [0, {num_outputs - 1}] per position, shape (n, {where}) or "
            f"(n, {where}, 1), or one row of {num_outputs} class probabilities per position, "
            f"shape (n, {where}, {num_outputs})"
        )
    if num_outputs == 1:
        return "labels in [0, 1] (0/1 for a single-logit binary classifier)"
    return (
        f"class indices in [0, {num_outputs - 1}] of shape (n,) or (n, 1), or rows of "
        f"{num_outputs} class probabilities (one-hot or soft, non-negative, summing to 1)"
    )


def fits(shape, expected):
    """True when ``shape`` matches ``expected`` (None in either matches any size)."""
    return len(shape) == len(expected) and all(
        e is None or s is None or s == e for s, e in zip(shape, expected, strict=True)
    )


def _check_position_shape(y, kind, num_outputs, positions, argument):
    expected = [(*positions, num_outputs)] if kind == DENSE else [positions, (*positions, 1)]
    if not any(fits(y.shape[1:], e) for e in expected):
        raise ValueError(
            f"`{argument}` must be {accepted(num_outputs, positions)}. Received: "
            f"{argument} of shape {y.shape}"
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


def check_label_array(y, num_outputs, argument="y", positions=()):
    """Raises a ValueError unless the NumPy labels ``y`` suit the model.

    The message names ``argument``, what was received and what is accepted
    (class indices, probability rows or 0/1 for a single logit).

    Args:
        y: labels (array-like).
        num_outputs: the model's number of outputs C.
        argument: the argument name used in the message.
        positions: the static positions of the model's logits, e.g. ``(H, W)``
            for a segmentation map (``()``: one prediction per sample).

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
    kind = label_kind(y.shape, num_outputs, len(positions) + 2)
    if positions:
        _check_position_shape(y, kind, num_outputs, tuple(positions), argument)
    elif kind == SPARSE and y.ndim >= 2 and y.shape[-1] != 1:
        raise ValueError(
            f"`{argument}` must be {accepted(num_outputs)}. Received: {argument} of shape "
            f"{y.shape} for a model with {num_outputs} outputs"
        )
    if not positions and kind == BINARY and y.ndim >= 2 and y.shape[-1] != 1:
        raise ValueError(
            f"`{argument}` for a single-logit model must have shape (n,) or (n, 1) with "
            f"{accepted(1)}. Received: {argument} of shape {y.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"`{argument}` must not contain NaN or inf: {accepted(num_outputs, positions)}. "
            f"Received: {argument} with {non_finite_summary(values)}"
        )
    if kind == BINARY:
        bad = (values < 0) | (values > 1)
    elif kind == DENSE:
        row_bad = (values.min(axis=-1) < 0) | (np.abs(values.sum(axis=-1) - 1) > SUM_TOLERANCE)
        if np.any(row_bad):
            row = values.reshape(-1, num_outputs)[np.argmax(row_bad.ravel())]
            raise ValueError(
                f"`{argument}` rows must be class probabilities (non-negative, summing to "
                f"1): {accepted(num_outputs, positions)}. Received: a row "
                f"{np.round(row, 4).tolist()} summing to {row.sum():.4g}"
            )
        return
    else:
        bad = (values != np.round(values)) | (values < 0) | (values > num_outputs - 1)
    if np.any(bad):
        raise ValueError(
            f"`{argument}` must be {accepted(num_outputs, positions)}. Received: {argument} from "
            f"{values.min():g} to {values.max():g}, e.g. {values[bad].ravel()[0]:g}"
        )


def label_indices(y, num_outputs, output_rank=2):
    """NumPy class indices (binary: 0/1) of a batch of labels, for evaluation.

    Args:
        y: labels of any kind `label_kind` recognizes.
        num_outputs: the model's number of outputs C.
        output_rank: the rank of the model's logits with the batch axis: 2
            for ``(n, C)``; 4 for a segmentation map ``(n, H, W, C)``, whose
            labels are one per pixel.

    Returns:
        An int64 array of shape ``(n, *positions)`` (``(n,)`` for a
        classifier): the index, the argmax of a probability row, or
        ``label > 0.5`` for a single logit.

    Example:
        ```python
        label_indices(np.eye(3)[[2, 0]], 3)  # array([2, 0])
        label_indices(np.zeros((8, 32, 32, 1)), 11, output_rank=4).shape  # (8, 32, 32)
        ```
    """
    y = np.asarray(y)
    kind = label_kind(y.shape, num_outputs, output_rank)
    shape = (len(y), *y.shape[1 : output_rank - 1])
    if kind == BINARY:
        return (y.reshape(shape) > 0.5).astype("int64")
    if kind == DENSE:
        return y.reshape(*shape, -1).argmax(-1)
    return y.reshape(shape).astype("int64")


def predicted_indices(logits):
    """NumPy predicted classes from logits (binary: logit > 0).

    Args:
        logits: (n, C) logits, or (n, 1) for a binary classifier; (n,
            *positions, C) for one prediction per pixel or token.

    Returns:
        An int64 (n, *positions) array of class indices.

    Example:
        ```python
        accuracy = (predicted_indices(model.predict(x)) == label_indices(y, 10)).mean()
        ```
    """
    logits = np.asarray(logits)
    if logits.shape[-1] == 1:
        return (logits[..., 0] > 0).astype("int64")
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
