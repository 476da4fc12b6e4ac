import numpy as np
import pytest
import tensorflow as tf

from keras_kd.losses import forward_kl_loss, gkd_loss, reverse_kl_loss
from keras_kd.losses.gkd import gkd_per_position


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def kl(p, q):
    return np.sum(p * (np.log(p) - np.log(q)), axis=-1)


def numpy_gkd(t, s, beta, temperature):
    """Per position, float64, in probability space (not TRL's log-space form)."""
    p, q = softmax(np.asarray(t, np.float64) / temperature), softmax(np.asarray(s) / temperature)
    if beta == 0:
        return kl(p, q)
    if beta == 1:
        return kl(q, p)
    m = beta * p + (1 - beta) * q
    return beta * kl(p, m) + (1 - beta) * kl(q, m)


def draw(seed, shape, scale=3.0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, scale, shape), rng.normal(0, scale, shape)


@pytest.mark.parametrize("shape", [(2, 5, 7), (3, 11), (2, 2, 3, 4)])
@pytest.mark.parametrize("beta", [0.0, 0.1, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_matches_numpy(shape, beta, temperature):
    t, s = draw(0, shape)
    expected = numpy_gkd(t, s, beta, temperature)
    got = gkd_per_position(t, s, beta, temperature).numpy()
    assert got.shape == shape[:-1]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(float(gkd_loss(t, s, beta, temperature)), expected.mean(), rtol=1e-5)


def test_endpoints_are_the_two_kls():
    t, s = draw(1, (2, 4, 6))
    p, q = softmax(t), softmax(s)
    np.testing.assert_allclose(float(gkd_loss(t, s, beta=0.0)), kl(p, q).mean(), rtol=1e-5)
    np.testing.assert_allclose(float(gkd_loss(t, s, beta=1.0)), kl(q, p).mean(), rtol=1e-5)
    assert float(forward_kl_loss(t, s)) == float(gkd_loss(t, s, beta=0.0))
    assert float(reverse_kl_loss(t, s, 2.0)) == float(gkd_loss(t, s, 1.0, 2.0))
    # Near the endpoints the JSD is small (it tends to 0), not the KL: a jump.
    assert float(gkd_loss(t, s, beta=1e-6)) < 1e-4 * float(gkd_loss(t, s, beta=0.0))


def test_half_is_symmetric_and_bounded_by_log_2():
    t, s = draw(2, (3, 5, 8), 10.0)
    a, b = float(gkd_loss(t, s, 0.5)), float(gkd_loss(s, t, 0.5))
    assert a == pytest.approx(b, rel=1e-5)
    assert 0.0 < a <= np.log(2.0)


def test_zero_when_equal_non_negative_and_shift_invariant():
    t, s = draw(3, (2, 6, 9))
    for beta in (0.0, 0.3, 1.0):
        assert float(gkd_loss(t, t, beta)) == pytest.approx(0.0, abs=1e-6)
        assert float(gkd_loss(t, s, beta)) >= 0.0
        shift = np.random.default_rng(4).normal(0, 20, (2, 6, 1))
        base = float(gkd_loss(t, s, beta))
        assert float(gkd_loss(t + shift, s - shift, beta)) == pytest.approx(base, rel=1e-5)


def test_padded_tokens_do_not_change_the_value():
    # Real lengths 3 and 5 of 6; padded logits are arbitrary.
    t, s = draw(5, (2, 6, 7))
    lengths = np.array([3, 5])
    mask = np.arange(6)[None, :] < lengths[:, None]
    expected = np.concatenate(
        [numpy_gkd(t[i, :n], s[i, :n], 0.5, 1.0) for i, n in enumerate(lengths)]
    ).mean()  # the mean over the 8 real tokens of the batch, not per sequence
    got = float(gkd_loss(t, s, mask=mask))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    t2, s2 = t.copy(), s.copy()
    t2[~mask], s2[~mask] = 100.0, -100.0
    assert float(gkd_loss(t2, s2, mask=mask)) == pytest.approx(got, rel=1e-6)
    # The same padding as per-token weights (0 = padding).
    weights = mask.astype("float32")
    assert float(gkd_loss(t2, s2, sample_weight=weights)) == pytest.approx(got, rel=1e-6)


def test_zero_weight_samples():
    t, s = draw(6, (3, 4, 5))
    per_position = numpy_gkd(t, s, 0.5, 1.0)
    w = np.array([1.0, 0.0, 3.0])
    got = float(gkd_loss(t, s, sample_weight=w))
    # Per-sample weights weigh, they do not mask: divided by every token.
    np.testing.assert_allclose(got, np.sum(w[:, None] * per_position) / 12, rtol=1e-5)
    s2 = s.copy()
    s2[1] = 40.0
    assert float(gkd_loss(t, s2, sample_weight=w)) == pytest.approx(got, rel=1e-6)


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_gradients_are_finite_for_saturated_logits(beta):
    t, s = draw(7, (2, 3, 6), 60.0)
    s = tf.Variable(s, dtype=tf.float32)
    with tf.GradientTape() as tape:
        loss = gkd_loss(t, s, beta)
    grad = tape.gradient(loss, s).numpy()
    assert np.isfinite(float(loss)) and np.all(np.isfinite(grad)) and np.any(grad != 0)


def test_float32_scalar_and_traceable():
    t, s = draw(8, (2, 3, 5))
    mask = tf.constant([[True, True, False], [True, False, False]])
    loss = tf.function(lambda a, b, m: gkd_loss(a, b, 0.7, mask=m))(
        tf.constant(t, tf.float32), tf.constant(s, tf.float32), mask
    )
    assert loss.dtype == tf.float32 and loss.shape == ()


@pytest.mark.parametrize("beta", [-0.1, 1.5, "0.5", None, True, float("nan")])
def test_bad_beta_is_refused(beta):
    t, s = draw(9, (1, 2, 3))
    with pytest.raises(ValueError, match=r"`beta`.*Received: beta="):
        gkd_loss(t, s, beta)


@pytest.mark.parametrize("temperature", [0.0, -2.0, "1"])
def test_bad_temperature_is_refused(temperature):
    t, s = draw(10, (1, 2, 3))
    with pytest.raises(ValueError, match=r"temperature.*Received: temperature="):
        gkd_loss(t, s, temperature=temperature)


def test_mismatched_vocabularies_are_refused():
    with pytest.raises(ValueError, match=r"`teacher_logits` and `student_logits`.*Received"):
        gkd_loss(np.zeros((2, 3, 5)), np.zeros((2, 3, 6)))
