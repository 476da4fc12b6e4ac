"""Metrics of a Keras model's predictions: top-1 accuracy, mean IoU, bits per character."""

import math

import numpy as np

from keras_kd import labels


def _passes(model, ds):
    """``(predicted, true, weights or None)`` of each batch, in one pass over ``ds``."""
    for element in ds:
        x, y, weight = (*element, None) if len(element) == 2 else tuple(element)
        logits = model(x, training=False)
        true = labels.label_indices(y, logits.shape[-1], len(logits.shape))
        yield labels.predicted_indices(logits), true, None if weight is None else np.asarray(weight)


def predict_labels(model, ds):
    """Returns ``(predicted, true)`` class indices over a batched dataset.

    Labels may be class indices of shape ``(batch,)`` or ``(batch, 1)``,
    probability rows, or 0/1 for a single-logit model (`keras_kd.labels`);
    for logits with positions ``(batch, *positions, C)``, one per position,
    and both arrays are ``(n, *positions)``.
    """
    predicted, true, _ = zip(*_passes(model, ds), strict=True)
    return np.concatenate(predicted), np.concatenate(true)


def top1_accuracy(model, ds):
    """Fraction of samples whose prediction is the label (batched dataset).

    For logits with positions, the fraction of positions; a dataset of
    ``(x, y, sample_weight)`` counts only the positions (or samples) of
    nonzero weight, so padding (weight 0) is left out.
    """
    predicted, true, weights = zip(*_passes(model, ds), strict=True)
    correct = np.concatenate(predicted) == np.concatenate(true)
    if weights[0] is None:
        return float(np.mean(correct))
    counted = np.concatenate(weights) > 0
    counted = counted.reshape(counted.shape + (1,) * (correct.ndim - counted.ndim))
    return float(np.mean(correct[np.broadcast_to(counted, correct.shape)]))


def mean_iou(y_true, y_pred, num_classes):
    """Mean intersection over union of two label maps, over the classes present.

    ``IoU_c = |true = c and pred = c| / |true = c or pred = c|``, averaged
    over the classes whose union is not empty (present in the labels or
    the predictions), as mmsegmentation's ``mIoU`` and `keras.metrics.MeanIoU`
    average them. Every pixel of every map counts once (the confusion matrix
    is summed over the whole set, not per image).

    Args:
        y_true: integer class indices, any shape, e.g. (n, H, W).
        y_pred: predicted class indices of the same shape.
        num_classes: the number of classes C (indices in [0, C)).

    Returns:
        The mean IoU in [0, 1], a Python float.

    Example:
        ```python
        mean_iou(y_val, model.predict(x_val).argmax(-1), num_classes=11)
        ```
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "`y_true` and `y_pred` must have one shape. "
            f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"`{name}` must hold class indices in [0, {num_classes}). "
                f"Received: {name} in [{values.min()}, {values.max()}]"
            )
    pairs = y_true.astype("int64").ravel() * num_classes + y_pred.astype("int64").ravel()
    confusion = np.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes)
    intersection = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - intersection
    present = union > 0
    if not present.any():
        raise ValueError(f"`y_true` is empty. Received: y_true.shape={y_true.shape}")
    return float(np.mean(intersection[present] / union[present]))


def bits_per_character(logits, y, mask=None):
    """Mean negative log2-likelihood of the next characters: ``-mean log2 p(y_t)``.

    Args:
        logits: (n, T, V) next-character logits.
        y: (n, T) the characters that came next (ids in [0, V)).
        mask: (n, T) 1 for a real position, 0 for padding; None counts all.

    Returns:
        Bits per character over the real positions, a Python float (a
        model that predicts uniformly over V characters scores ``log2 V``).

    Example:
        ```python
        bits_per_character(model.predict(x_val), y_val, mask=y_val != 0)
        ```
    """
    logits, y = np.asarray(logits, "float64"), np.asarray(y).astype("int64")
    if logits.shape[:-1] != y.shape:
        raise ValueError(
            "`logits` must be `y`'s shape plus a class axis. "
            f"Received: logits.shape={logits.shape}, y.shape={y.shape}"
        )
    mask = np.ones(y.shape, bool) if mask is None else np.asarray(mask).astype(bool)
    if mask.shape != y.shape or not mask.any():
        raise ValueError(
            f"`mask` must have `y`'s shape {y.shape} and one real position at least. "
            f"Received: mask.shape={mask.shape}, real positions={int(mask.sum())}"
        )
    top = logits.max(-1, keepdims=True)
    log_z = np.log(np.exp(logits - top).sum(-1)) + top[..., 0]
    log_p = np.take_along_axis(logits, y[..., None], -1)[..., 0] - log_z
    return float(-log_p[mask].mean() / math.log(2))
