"""Top-1 accuracy of a Keras model on a labelled dataset."""

import numpy as np

from keras_kd import labels


def predict_labels(model, ds):
    """Returns ``(predicted, true)`` class indices over a batched dataset.

    Labels may be class indices of shape ``(batch,)`` or ``(batch, 1)``,
    probability rows, or 0/1 for a single-logit model (`keras_kd.labels`).
    """
    predicted, true = [], []
    for x, y in ds:
        logits = model(x, training=False)
        predicted.append(labels.predicted_indices(logits))
        true.append(labels.label_indices(y, logits.shape[-1]))
    return np.concatenate(predicted), np.concatenate(true)


def top1_accuracy(model, ds):
    """Fraction of samples whose prediction is the label (batched dataset)."""
    predicted, true = predict_labels(model, ds)
    return float(np.mean(predicted == true))
