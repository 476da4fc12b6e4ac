import numpy as np
import pytest
import tensorflow as tf

from keras_kd.losses import pkd_loss
from keras_kd.losses.pkd import pkd_per_sample, standardize_channels


def numpy_standardize(x):
    """Per channel over every other axis, Bessel's correction, 1e-6 on the std."""
    x = np.asarray(x, np.float64)
    axes = tuple(range(x.ndim - 1))
    return (x - x.mean(axis=axes)) / (x.std(axis=axes, ddof=1) + 1e-6)


def numpy_resize_bilinear(x, size):
    """NHWC bilinear resize with half-pixel centres (F.interpolate, align_corners=False)."""

    def weights(n_in, n_out):
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        w = np.zeros((n_out, n_in))
        w[np.arange(n_out), lo] += 1.0 - (src - lo)
        w[np.arange(n_out), hi] += src - lo
        return w

    wh, ww = weights(x.shape[1], size[0]), weights(x.shape[2], size[1])
    return np.einsum("ih,jw,bhwc->bijc", wh, ww, np.asarray(x, np.float64))


def numpy_pkd_per_sample(t, s, resize_student=True):
    if t.ndim == 4 and t.shape[1:3] != s.shape[1:3]:
        if resize_student:
            s = numpy_resize_bilinear(s, t.shape[1:3])
        else:
            t = numpy_resize_bilinear(t, s.shape[1:3])
    d = numpy_standardize(s) - numpy_standardize(t)
    return (d.reshape(d.shape[0], -1) ** 2).mean(axis=1) / 2


def draw(seed, t_shape, s_shape=None, scale=2.0):
    rng = np.random.default_rng(seed)
    t = rng.normal(0.5, scale, t_shape)
    return t, rng.normal(-1.0, scale, s_shape or t_shape)


@pytest.mark.parametrize(
    "t_shape,s_shape",
    [
        ((3, 4, 5, 6), None),
        ((2, 7, 3), None),  # a sequence
        ((2, 6, 6, 3), (2, 4, 4, 3)),  # student upsampled
        ((2, 4, 3, 2), (2, 8, 6, 2)),  # student downsampled
        ((2, 5, 4, 2), (2, 5, 7, 2)),  # only the widths differ
    ],
)
@pytest.mark.parametrize("resize_student", [True, False])
def test_matches_numpy(t_shape, s_shape, resize_student):
    t, s = draw(0, t_shape, s_shape)
    expected = numpy_pkd_per_sample(t, s, resize_student)
    got = pkd_per_sample(t, s, resize_student).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    loss = float(pkd_loss(t, s, resize_student=resize_student))
    np.testing.assert_allclose(loss, expected.mean(), rtol=1e-5)


def test_standardized_channels_have_batch_statistics():
    t, _ = draw(1, (4, 3, 3, 5))
    z = standardize_channels(t).numpy()
    np.testing.assert_allclose(z, numpy_standardize(t), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z.reshape(-1, 5).mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(z.reshape(-1, 5).std(axis=0, ddof=1), 1.0, rtol=1e-5)


def test_is_one_minus_the_pearson_correlation_per_channel():
    t, s = draw(2, (3, 4, 4, 2))
    n = 3 * 4 * 4
    r = [np.corrcoef(t[..., c].ravel(), s[..., c].ravel())[0, 1] for c in range(2)]
    expected = np.mean([(1 - rc) * (n - 1) / n for rc in r])
    assert float(pkd_loss(t, s)) == pytest.approx(expected, rel=1e-5)


def test_zero_when_equal_non_negative_and_scale_shift_invariant():
    t, s = draw(3, (2, 4, 4, 3))
    assert float(pkd_loss(t, t)) == pytest.approx(0.0, abs=1e-6)
    assert float(pkd_loss(t, s)) >= 0.0
    rng = np.random.default_rng(4)
    scale, shift = rng.uniform(0.5, 20.0, (1, 1, 1, 3)), rng.normal(0, 50, (1, 1, 1, 3))
    base = float(pkd_loss(t, s))
    assert float(pkd_loss(t, scale * s + shift)) == pytest.approx(base, rel=1e-4)
    assert float(pkd_loss(scale * t - shift, s)) == pytest.approx(base, rel=1e-4)


def test_sample_weight_weighs_after_batch_normalization():
    t, s = draw(5, (4, 3, 3, 2))
    per_sample = numpy_pkd_per_sample(t, s)  # statistics of all 4 samples
    w = np.array([1.0, 0.0, 2.0, 1.0])
    got = float(pkd_loss(t, s, sample_weight=w))
    np.testing.assert_allclose(got, np.sum(w * per_sample) / 4, rtol=1e-5)
    ones = float(pkd_loss(t, s, sample_weight=np.ones(4)))
    assert ones == pytest.approx(float(pkd_loss(t, s)), rel=1e-6)


def test_gradients_are_finite():
    t, s = draw(6, (2, 4, 4, 3), (2, 2, 2, 3), scale=100.0)
    s = tf.Variable(s, dtype=tf.float32)
    with tf.GradientTape() as tape:
        loss = pkd_loss(t, s)
    grad = tape.gradient(loss, s).numpy()
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)
    # A constant channel (std 0): the epsilon keeps it finite.
    c = tf.Variable(np.ones((2, 3, 3, 1)), dtype=tf.float32)
    with tf.GradientTape() as tape:
        loss = pkd_loss(np.ones((2, 3, 3, 1)), c)
    assert np.isfinite(float(loss)) and np.all(np.isfinite(tape.gradient(loss, c).numpy()))


def test_float32_scalar_and_traceable():
    t, s = draw(7, (2, 4, 4, 2), (2, 2, 2, 2))
    fn = tf.function(lambda a, b: pkd_loss(a, b))
    loss = fn(tf.constant(t, tf.float32), tf.constant(s, tf.float32))
    assert loss.dtype == tf.float32 and loss.shape == ()


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_bad_resize_student_is_refused(value):
    t, s = draw(8, (2, 2, 2, 1))
    with pytest.raises(ValueError, match=r"`resize_student`.*Received: resize_student="):
        pkd_loss(t, s, resize_student=value)


@pytest.mark.parametrize(
    "t_shape,s_shape",
    [
        ((2, 4, 4, 3), (2, 4, 4, 5)),
        ((2, 6, 3), (2, 5, 3)),
        ((2, 3), (2, 3)),
        ((2, 4, 4, 3), (2, 12)),
    ],
)
def test_mismatched_maps_are_refused(t_shape, s_shape):
    with pytest.raises(ValueError, match=r"`teacher` and `student`.*Received: teacher shape"):
        pkd_loss(np.zeros(t_shape), np.zeros(s_shape))
