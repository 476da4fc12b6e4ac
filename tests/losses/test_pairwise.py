import math

import numpy as np
import pytest
import tensorflow as tf

from keras_kd.losses import pairwise_loss
from keras_kd.losses.pairwise import pairwise_per_sample, pool_window


def numpy_max_pool_ceil(x, window):
    """Windows from the top-left corner, stride = window, last one partial."""
    b, h, w, c = x.shape
    rows, cols = math.ceil(h / window[0]), math.ceil(w / window[1])
    out = np.zeros((b, rows, cols, c))
    for i in range(rows):
        for j in range(cols):
            patch = x[:, i * window[0] : (i + 1) * window[0], j * window[1] : (j + 1) * window[1]]
            out[:, i, j] = patch.max(axis=(1, 2))
    return out


def numpy_similarity(x):
    f = x.reshape(x.shape[0], -1, x.shape[-1])
    f = f / (np.linalg.norm(f, axis=-1, keepdims=True) + 1e-8)
    return np.einsum("bmc,bnc->bmn", f, f)


def numpy_pairwise_per_sample(t, s, scale):
    t, s = np.asarray(t, np.float64), np.asarray(s, np.float64)
    window = (max(1, int(t.shape[1] * scale)), max(1, int(t.shape[2] * scale)))
    a_t = numpy_similarity(numpy_max_pool_ceil(t, window))
    a_s = numpy_similarity(numpy_max_pool_ceil(s, window))
    positions = a_t.shape[-1]
    return ((a_t - a_s) ** 2).sum(axis=(1, 2)) / positions**2


def draw(seed, t_shape, s_channels=None):
    rng = np.random.default_rng(seed)
    t = np.maximum(rng.normal(0, 1, t_shape), 0.0)  # post-ReLU-like, some zero vectors
    s_shape = t_shape[:3] + (s_channels or t_shape[3],)
    return t, np.maximum(rng.normal(0, 1, s_shape), 0.0)


@pytest.mark.parametrize(
    "t_shape,s_channels,scale",
    [
        ((2, 8, 8, 4), 6, 0.5),  # the authors' default: a 2 x 2 grid
        ((2, 7, 5, 3), None, 0.5),  # window 3 x 2, partial last windows: 3 x 3 grid
        ((3, 8, 8, 2), 5, 0.25),
        ((2, 6, 6, 3), None, 0.34),  # int(6 * 0.34) = 2
        ((1, 5, 9, 2), 3, 0.1),  # windows of 1 x 1 (no pooling)
    ],
)
def test_matches_numpy(t_shape, s_channels, scale):
    t, s = draw(0, t_shape, s_channels)
    expected = numpy_pairwise_per_sample(t, s, scale)
    got = pairwise_per_sample(t, s, scale).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(float(pairwise_loss(t, s, scale)), expected.mean(), rtol=1e-5)


def test_pool_window_truncates_like_the_authors():
    assert pool_window(64, 128, 0.5) == (32, 64)
    assert pool_window(7, 5, 0.5) == (3, 2)
    assert pool_window(100, 100, 0.29) == (28, 28)  # int(28.999999999999996)
    assert pool_window(3, 3, 0.1) == (1, 1)


def test_one_pooled_position_gives_zero():
    t, s = draw(1, (2, 4, 4, 3))
    assert float(pairwise_loss(t, s, scale=1.0)) == pytest.approx(0.0, abs=1e-6)


def test_zero_when_equal_non_negative_and_invariant():
    t, s = draw(2, (2, 8, 8, 4))
    assert float(pairwise_loss(t, t, 0.25)) == pytest.approx(0.0, abs=1e-7)
    base = float(pairwise_loss(t, s, 0.25))
    assert base > 0.0
    # A positive scale of either map, and any order of the student's channels.
    assert float(pairwise_loss(7.0 * t, s, 0.25)) == pytest.approx(base, rel=1e-5)
    permuted = s[..., np.random.default_rng(3).permutation(4)]
    assert float(pairwise_loss(t, 0.1 * permuted, 0.25)) == pytest.approx(base, rel=1e-5)


def test_sample_weight_and_zero_weight_samples():
    t, s = draw(4, (3, 4, 4, 2))
    per_sample = numpy_pairwise_per_sample(t, s, 0.5)
    w = np.array([2.0, 0.0, 1.0])
    got = float(pairwise_loss(t, s, sample_weight=w))
    np.testing.assert_allclose(got, np.sum(w * per_sample) / 3, rtol=1e-5)
    s2 = s.copy()
    s2[1] = np.random.default_rng(5).normal(size=s2[1].shape)
    assert float(pairwise_loss(t, s2, sample_weight=w)) == pytest.approx(got, rel=1e-6)


def gradient(t, s, scale=0.5):
    s = tf.Variable(s, dtype=tf.float32)
    with tf.GradientTape() as tape:
        loss = pairwise_loss(t, s, scale)
    return float(loss), tape.gradient(loss, s).numpy()


def test_gradients_are_finite_and_the_norm_is_a_constant():
    t, s = draw(6, (2, 8, 8, 3))
    loss, grad = gradient(t, s)
    assert np.isfinite(loss) and np.all(np.isfinite(grad)) and np.any(grad != 0)
    # The value is scale invariant, but as in the authors' code (the norm is
    # detached) the gradient has a radial component: not orthogonal to s.
    assert abs(np.sum(grad * s)) > 1e-3 * np.sum(np.abs(grad * s))


def test_an_all_zero_position_gives_finite_but_large_gradients():
    # Normalizing a zero channel vector: the unit vector is 0, its derivative
    # 1 / 1e-8 (the authors' epsilon), so the gradient there is huge but finite.
    t, s = draw(7, (2, 8, 8, 3))
    s[0, :4, :4] = 0.0  # one pooled position of sample 0
    loss, grad = gradient(t, s)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    assert np.abs(grad[0, :4, :4]).max() > 1e6


def test_float32_scalar_and_traceable():
    t, s = draw(7, (2, 6, 6, 2))
    fn = tf.function(lambda a, b: pairwise_loss(a, b, 0.5))
    loss = fn(tf.constant(t, tf.float32), tf.constant(s, tf.float32))
    assert loss.dtype == tf.float32 and loss.shape == ()


@pytest.mark.parametrize("scale", [0.0, -0.5, 1.5, "0.5", True, None])
def test_bad_scale_is_refused(scale):
    t, s = draw(8, (1, 4, 4, 1))
    with pytest.raises(ValueError, match=r"`scale`.*Received: scale="):
        pairwise_loss(t, s, scale)


@pytest.mark.parametrize("s_shape", [(2, 4, 8, 3), (2, 8, 3), (3, 8, 8, 3)])
def test_mismatched_maps_are_refused(s_shape):
    with pytest.raises(ValueError, match=r"`teacher` and `student`.*Received: teacher shape"):
        pairwise_loss(np.zeros((2, 8, 8, 3)), np.zeros(s_shape))
