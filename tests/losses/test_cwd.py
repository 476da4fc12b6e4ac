import numpy as np
import pytest
import tensorflow as tf

from keras_kd.losses import cwd_loss
from keras_kd.losses.cwd import cwd_per_sample


def numpy_cwd_per_sample(t, s, tau):
    """tau^2 * mean over channels of KL over positions, float64, one loop per channel."""
    t = np.asarray(t, np.float64).reshape(t.shape[0], -1, t.shape[-1])
    s = np.asarray(s, np.float64).reshape(s.shape[0], -1, s.shape[-1])
    out = np.zeros(t.shape[0])
    for b in range(t.shape[0]):
        kls = []
        for c in range(t.shape[-1]):
            p = np.exp(t[b, :, c] / tau - np.max(t[b, :, c] / tau))
            p /= p.sum()
            q = np.exp(s[b, :, c] / tau - np.max(s[b, :, c] / tau))
            q /= q.sum()
            kls.append(np.sum(p * (np.log(p) - np.log(q))))
        out[b] = tau**2 * np.mean(kls)
    return out


def draw(seed, shape, scale=2.0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, scale, shape), rng.normal(0, scale, shape)


@pytest.mark.parametrize("shape", [(2, 4, 5, 3), (3, 6, 4), (1, 1, 7, 2)])
@pytest.mark.parametrize("temperature", [1.0, 4.0, 0.5])
def test_matches_numpy(shape, temperature):
    t, s = draw(0, shape)
    expected = numpy_cwd_per_sample(t, s, temperature)
    np.testing.assert_allclose(cwd_per_sample(t, s, temperature).numpy(), expected, rtol=1e-5)
    got = float(cwd_loss(t, s, temperature))
    np.testing.assert_allclose(got, expected.mean(), rtol=1e-5)


def test_sample_weight_weighs_samples_over_the_batch_size():
    t, s = draw(1, (4, 3, 3, 2))
    per_sample = numpy_cwd_per_sample(t, s, 2.0)
    w = np.array([1.0, 0.0, 2.0, 0.5])
    got = float(cwd_loss(t, s, 2.0, sample_weight=w))
    np.testing.assert_allclose(got, np.sum(w * per_sample) / 4, rtol=1e-5)
    # A zero-weight sample's values do not matter.
    s2 = s.copy()
    s2[1] = 50.0 * np.random.default_rng(2).normal(size=s2[1].shape)
    assert float(cwd_loss(t, s2, 2.0, sample_weight=w)) == pytest.approx(got, rel=1e-6)


def test_zero_when_equal_and_non_negative():
    t, s = draw(3, (3, 4, 4, 5))
    assert float(cwd_loss(t, t, 4.0)) == pytest.approx(0.0, abs=1e-6)
    for seed in range(3):
        t, s = draw(seed, (2, 3, 3, 4), 5.0)
        assert float(cwd_loss(t, s, 1.0)) >= 0.0


def test_invariant_to_a_constant_per_sample_and_channel():
    t, s = draw(4, (3, 4, 5, 2))
    shift = np.random.default_rng(5).normal(0, 10, (3, 1, 1, 2))
    base = float(cwd_loss(t, s, 2.0))
    assert float(cwd_loss(t + shift, s - shift, 2.0)) == pytest.approx(base, rel=1e-5)


def test_mask_leaves_padded_positions_out():
    # Sequences of 5 real steps padded to 8 with arbitrary values: the same
    # value as the unpadded sequences.
    t, s = draw(6, (2, 5, 3))
    rng = np.random.default_rng(7)
    pad_t, pad_s = (np.concatenate([x, rng.normal(0, 9, (2, 3, 3))], axis=1) for x in (t, s))
    mask = np.arange(8)[None, :].repeat(2, 0) < 5
    expected = float(cwd_loss(t, s, 2.0))
    assert float(cwd_loss(pad_t, pad_s, 2.0, mask=mask)) == pytest.approx(expected, rel=1e-5)
    # An all-True mask is no mask; a 2-D map's mask is (batch, height, width).
    t, s = draw(8, (2, 3, 4, 2))
    full = np.ones((2, 3, 4), bool)
    assert float(cwd_loss(t, s, mask=full)) == pytest.approx(float(cwd_loss(t, s)), rel=1e-6)


def test_gradients_are_finite():
    t, s = draw(9, (2, 4, 4, 3), 30.0)
    s = tf.Variable(s, dtype=tf.float32)
    with tf.GradientTape() as tape:
        loss = cwd_loss(t, s, 1.0)
    grad = tape.gradient(loss, s)
    assert np.all(np.isfinite(grad.numpy())) and np.any(grad.numpy() != 0)


def test_float32_scalar_and_traceable():
    t, s = draw(10, (2, 3, 3, 2))
    loss = tf.function(lambda a, b: cwd_loss(a, b, 4.0))(
        tf.constant(t, tf.float32), tf.constant(s, tf.float32)
    )
    assert loss.dtype == tf.float32 and loss.shape == ()


@pytest.mark.parametrize("temperature", [0.0, -1.0, "4", True, 1e4, float("nan")])
def test_bad_temperature_is_refused(temperature):
    t, s = draw(11, (1, 2, 2, 1))
    with pytest.raises(ValueError, match=r"temperature.*Received: temperature="):
        cwd_loss(t, s, temperature)


@pytest.mark.parametrize("s_shape", [(2, 3, 3, 5), (2, 4, 3, 4), (2, 9, 4), (2, 4)])
def test_mismatched_or_flat_maps_are_refused(s_shape):
    t = np.zeros((2, 3, 3, 4)) if len(s_shape) != 2 else np.zeros((2, 4))
    with pytest.raises(ValueError, match=r"`teacher` and `student`.*Received: teacher shape"):
        cwd_loss(t, np.zeros(s_shape))
