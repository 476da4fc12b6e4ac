"""One labels module for training, checks, evaluation and export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_kd import labels
from keras_kd.evaluation import top1_accuracy


def test_label_kinds():
    assert labels.label_kind((8,), 10) == labels.SPARSE
    assert labels.label_kind((8, 1), 10) == labels.SPARSE
    assert labels.label_kind((8, 10), 10) == labels.DENSE
    assert labels.label_kind((8,), 1) == labels.BINARY
    assert labels.label_kind((8, 1), 1) == labels.BINARY


def test_task_loss_matches_numpy_for_every_kind():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4)).astype("float32")
    y = np.array([0, 3, 1, 2, 2, 0])
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -log_p[np.arange(6), y]
    for given in (y, y.reshape(-1, 1), np.eye(4)[y]):
        got = labels.task_loss_per_sample(tf.constant(given), tf.constant(logits)).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-5)
    z = rng.normal(size=(6, 1)).astype("float32")
    b = np.array([0, 1, 1, 0, 1, 0], "float32")
    sigmoid = 1 / (1 + np.exp(-z[:, 0]))
    bce = -(b * np.log(sigmoid) + (1 - b) * np.log(1 - sigmoid))
    got = labels.task_loss_per_sample(tf.constant(b), tf.constant(z)).numpy()
    np.testing.assert_allclose(got, bce, rtol=1e-5)


def test_top1_correct_for_every_kind():
    logits = tf.constant([[2.0, 0.0, 1.0], [0.0, 3.0, 1.0]])
    for y in ([0, 2], [[0], [2]], [[1, 0, 0], [0, 0, 1]]):
        np.testing.assert_array_equal(labels.top1_correct(tf.constant(y), logits), [1.0, 0.0])
    z = tf.constant([[0.3], [-0.2], [-1.0]])
    np.testing.assert_array_equal(labels.top1_correct(tf.constant([1, 1, 0]), z), [1, 0, 1])


def test_evaluation_reads_batch_by_one_integer_labels():
    # keras.datasets.cifar10 returns labels of shape (n, 1): arg-max over that axis
    # made every label 0 before; now they are read as class indices.
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(3, use_bias=False)(inputs))
    model.layers[-1].set_weights([np.eye(3, dtype="float32")])
    x = np.eye(3, dtype="float32")[[0, 1, 2, 2]]
    y = np.array([[0], [1], [2], [2]])
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(2)
    assert top1_accuracy(model, ds) == 1.0


@pytest.mark.parametrize(
    "y,num_outputs,match",
    [
        (np.array(["cat", "dog"]), 3, "must hold numbers.*dtype <U3"),
        (np.array([0.3, 0.5]), 3, "class indices.*Received: y from 0.3 to 0.5"),
        (np.array([[0.3], [0.5]]), 3, "class indices.*Received: y from 0.3 to 0.5"),
        (np.array([[0.5, 0.9, 0.1]]), 3, "rows must be class probabilities.*summing to 1.5"),
        (np.array([[-0.5, 1.5, 0.0]]), 3, "rows must be class probabilities"),
        (np.array([0, 3]), 3, r"class indices in \[0, 2\].*Received: y from 0 to 3"),
        (np.array([0.0, 2.0]), 1, r"labels in \[0, 1\].*Received: y from 0 to 2"),
        (np.array([[0, 1], [1, 0]]), 1, r"shape \(n,\) or \(n, 1\).*Received: y of shape"),
        (np.array([0.0, np.nan]), 3, "NaN"),
    ],
)
def test_unusable_label_arrays_are_refused(y, num_outputs, match):
    with pytest.raises(ValueError, match=match):
        labels.check_label_array(y, num_outputs)


def test_usable_label_arrays_pass():
    labels.check_label_array(np.array([0, 2, 1]), 3)
    labels.check_label_array(np.array([[0], [2]]), 3)
    labels.check_label_array(np.array([[0.2, 0.8, 0.0]]), 3)
    labels.check_label_array(np.array([0, 1, 1], "float32"), 1)
    labels.check_label_array(np.array([[0.25], [1.0]]), 1)


def test_in_graph_label_fault():
    fault, low, high = labels.label_fault(tf.constant([0, 5]), 3)
    assert bool(fault) and float(low) == 0 and float(high) == 5
    assert not bool(labels.label_fault(tf.constant([[0.5, 0.5, 0.0]]), 3)[0])
    assert bool(labels.label_fault(tf.constant([[0.5, 0.9, 0.0]]), 3)[0])
    assert bool(labels.label_fault(tf.constant([0.0, np.nan]), 1)[0])
    assert bool(labels.label_fault(tf.constant([1.5, 0.0]), 3)[0])


def test_label_indices_keep_positions():
    y = np.arange(2 * 3 * 4).reshape(2, 3, 4) % 5
    for given in (y, y[..., None], np.eye(5)[y]):
        got = labels.label_indices(given, 5, output_rank=4)
        np.testing.assert_array_equal(got, y)
    logits = np.eye(5)[y] * 2.0
    np.testing.assert_array_equal(labels.predicted_indices(logits), y)
    binary = np.array([[[0.2], [0.9]]])
    np.testing.assert_array_equal(labels.label_indices(binary, 1, output_rank=3), [[0, 1]])
    np.testing.assert_array_equal(labels.predicted_indices(binary - 0.5), [[0, 1]])
