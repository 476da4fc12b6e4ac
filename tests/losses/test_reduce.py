"""batch_mean: one reduction for samples, pixels and tokens, against NumPy."""

import numpy as np
import pytest
import tensorflow as tf

from keras_kd.losses._reduce import batch_mean

RNG = np.random.default_rng(0)


def test_per_sample_values_keep_keras_sum_over_batch_size():
    values = RNG.random(6).astype("float32")
    weight = np.array([1.0, 0.0, 2.0, 1.0, 0.5, 0.0], "float32")
    assert float(batch_mean(values)) == pytest.approx(values.mean(), rel=1e-6)
    assert float(batch_mean(values, weight)) == pytest.approx((values * weight).sum() / 6, 1e-6)
    assert float(batch_mean(values, weight[:, None])) == pytest.approx(
        (values * weight).sum() / 6, rel=1e-6
    )


def test_per_position_weights_are_a_padding_mask():
    values = RNG.random((3, 5)).astype("float32")
    lengths = np.array([5, 2, 0])
    pad = (np.arange(5)[None] < lengths[:, None]).astype("float32")
    expected = (values * pad).sum() / pad.sum()  # 7 real tokens, not 15
    assert float(batch_mean(values, pad)) == pytest.approx(expected, rel=1e-6)
    assert float(batch_mean(values, pad[..., None])) == pytest.approx(expected, rel=1e-6)
    assert float(batch_mean(values, mask=pad > 0)) == pytest.approx(expected, rel=1e-6)


def test_per_sample_weights_broadcast_over_positions_and_combine_with_a_mask():
    values = RNG.random((4, 3, 2)).astype("float32")
    weight = np.array([2.0, 1.0, 0.0, 1.0], "float32")
    mask = RNG.random((4, 3, 2)) > 0.4
    broadcast = weight[:, None, None] * np.ones_like(values)
    assert float(batch_mean(values, weight)) == pytest.approx(
        (values * broadcast).sum() / values.size, rel=1e-6
    )
    assert float(batch_mean(values, weight, mask)) == pytest.approx(
        (values * broadcast * mask).sum() / mask.sum(), rel=1e-6
    )


def test_per_position_weights_reach_a_per_sample_loss_as_the_real_positions_mean():
    values = np.array([1.0, 2.0, 3.0], "float32")
    weight = np.array([[1.0, 1.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, 0.0]], "float32")
    assert float(batch_mean(values, weight)) == pytest.approx((1.0 * 1 + 2.0 * 0.5) / 3)


def test_no_real_position_gives_zero_and_a_finite_gradient():
    values = tf.Variable(RNG.random((2, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        loss = batch_mean(values, np.zeros((2, 3), "float32"))
    assert float(loss) == 0.0
    assert np.all(np.isfinite(tape.gradient(loss, values).numpy()))
