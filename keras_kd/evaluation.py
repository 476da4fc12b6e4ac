"""Top-1 accuracy of a Keras model on a labelled dataset."""

import numpy as np

from keras_kd import labels


def predict_labels(model, ds):
    """Returns ``(predicted, true)`` class indices over a batched dataset.

    Labels may be class indices of shape ``(batch,)`` or ``(batch, 1)``,
    probability rows, or 0/1 for a single-logit model (`keras_kd.labels`).
    """
    predicted, true = [], []
    num_outputs = model.outputs[0].shape[-1]
    for x, y in ds:
        predicted.append(labels.predicted_indices(model(x, training=False)))
        true.append(labels.label_indices(y, num_outputs))
    return np.concatenate(predicted), np.concatenate(true)


def top1_accuracy(model, ds):
    """Fraction of samples whose prediction is the label (batched dataset)."""
    predicted, true = predict_labels(model, ds)
    return float(np.mean(predicted == true))
