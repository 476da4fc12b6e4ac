"""The NumPy metrics: mean IoU of label maps and bits per character."""

import math

import keras
import numpy as np
import pytest

from keras_kd.evaluation import bits_per_character, mean_iou


def test_mean_iou_by_hand():
    y_true = np.array([[0, 0, 1], [1, 2, 2]])
    y_pred = np.array([[0, 1, 1], [1, 2, 0]])
    # class 0: 1 / 3, class 1: 2 / 3, class 2: 1 / 2; class 3 absent from both
    assert mean_iou(y_true, y_pred, 4) == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert mean_iou(y_true, y_true, 4) == 1.0


def test_mean_iou_matches_keras_on_random_maps():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 5, (2, 3, 16, 16))
    metric = keras.metrics.MeanIoU(num_classes=5)
    metric.update_state(y_true, y_pred)
    assert mean_iou(y_true, y_pred, 5) == pytest.approx(float(metric.result()), rel=1e-6)


def test_mean_iou_refusals():
    with pytest.raises(ValueError, match=r"one shape. Received: y_true.shape=\(2,\)"):
        mean_iou(np.zeros(2, int), np.zeros(3, int), 2)
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\). Received: y_pred in"):
        mean_iou(np.zeros(2, int), np.array([0, 2]), 2)


def test_bits_per_character_is_the_cross_entropy_in_bits_over_real_positions():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3, 5, 7)) * 3
    y = rng.integers(1, 7, (3, 5))
    y[2, 3:] = 0
    mask = y != 0
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_p, y[..., None], -1)[..., 0]
    assert bits_per_character(logits, y, mask) == pytest.approx(nll[mask].mean() / math.log(2))
    assert bits_per_character(logits, y) == pytest.approx(nll.mean() / math.log(2))
    assert bits_per_character(np.zeros((2, 4, 8)), y[:2, :4]) == pytest.approx(3.0)


def test_bits_per_character_refusals():
    with pytest.raises(ValueError, match=r"Received: logits.shape=\(2, 4, 8\), y.shape=\(2, 3\)"):
        bits_per_character(np.zeros((2, 4, 8)), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="real positions=0"):
        bits_per_character(np.zeros((2, 4, 8)), np.zeros((2, 4), int), np.zeros((2, 4)))


def test_top1_accuracy_leaves_out_positions_of_weight_zero():
    import tensorflow as tf

    from keras_kd.evaluation import top1_accuracy
    from tests.helpers import sequence_data, tagger

    model = tagger("evaluated", 4)
    tokens, following = sequence_data(20)
    weights = (tokens > 0).astype("float32")
    correct = model.predict(tokens, verbose=0).argmax(-1) == following
    weighted = tf.data.Dataset.from_tensor_slices((tokens, following, weights)).batch(8)
    plain = tf.data.Dataset.from_tensor_slices((tokens, following)).batch(8)
    assert top1_accuracy(model, weighted) == pytest.approx(np.mean(correct[weights > 0]))
    assert top1_accuracy(model, plain) == pytest.approx(np.mean(correct))
