"""Top-1 accuracy of a Keras model on a labelled dataset."""

import numpy as np


def predict_labels(model, ds):
    """Returns ``(predicted, true)`` class indices over a batched dataset."""
    predicted, true = [], []
    for x, y in ds:
        predicted.append(np.argmax(model(x, training=False), axis=-1))
        true.append(
            np.asarray(y).reshape(len(predicted[-1]), -1).argmax(-1)
            if np.ndim(y) > 1
            else np.asarray(y)
        )
    return np.concatenate(predicted), np.concatenate(true)


def top1_accuracy(model, ds):
    """Fraction of samples whose arg-max logit is the label (batched dataset)."""
    predicted, true = predict_labels(model, ds)
    return float(np.mean(predicted == true))
