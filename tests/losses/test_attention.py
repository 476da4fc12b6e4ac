import numpy as np
import pytest
import tensorflow as tf

from keras_kd.losses import attention_transfer_loss, gradient_attention_loss


def numpy_pool(f, size):
    b, h, w, c = f.shape
    fh, fw = h // size[0], w // size[1]
    return f.reshape(b, size[0], fh, size[1], fw, c).mean(axis=(2, 4))


def numpy_attention(f, p):
    q = (np.abs(f) ** p).mean(axis=-1).reshape(len(f), -1)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def numpy_at(t, s, p=2):
    size = (min(t.shape[1], s.shape[1]), min(t.shape[2], s.shape[2]))
    t, s = numpy_pool(t, size), numpy_pool(s, size)
    return np.mean((numpy_attention(s, p) - numpy_attention(t, p)) ** 2)


@pytest.mark.parametrize(
    "t_shape,s_shape",
    [((4, 8, 8, 16), (4, 8, 8, 4)), ((2, 16, 16, 8), (2, 8, 8, 8)), ((3, 4, 4, 2), (3, 8, 8, 5))],
)
@pytest.mark.parametrize("p", [1, 2, 3])
def test_matches_numpy(t_shape, s_shape, p):
    rng = np.random.default_rng(0)
    t, s = rng.normal(size=t_shape), rng.normal(size=s_shape)
    np.testing.assert_allclose(
        float(attention_transfer_loss(t, s, p)), numpy_at(t, s, p), rtol=1e-4, atol=1e-8
    )


def test_zero_when_equal_and_scale_invariant():
    rng = np.random.default_rng(1)
    t, s = rng.normal(size=(2, 8, 8, 4)), rng.normal(size=(2, 8, 8, 6))
    assert float(attention_transfer_loss(t, t)) == pytest.approx(0.0, abs=1e-9)
    base = float(attention_transfer_loss(t, s))
    assert float(attention_transfer_loss(7.0 * t, 0.1 * s)) == pytest.approx(base, rel=1e-4)


def test_sizes_that_do_not_divide_raise_naming_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 6, 6, 3\).*\(2, 4, 4, 3\)"):
        attention_transfer_loss(np.zeros((2, 6, 6, 3)), np.zeros((2, 4, 4, 3)))


def test_gradient_attention_matches_numpy_and_zero_when_equal():
    rng = np.random.default_rng(2)
    jt, js = rng.normal(size=(4, 8, 8, 3)), rng.normal(size=(4, 8, 8, 3))
    expected = np.mean(np.linalg.norm((js - jt).reshape(4, -1), axis=-1))
    np.testing.assert_allclose(float(gradient_attention_loss(jt, js)), expected, rtol=1e-5)
    assert float(gradient_attention_loss(jt, jt)) == 0.0


def test_gradient_attention_has_finite_gradient_at_zero():
    j = tf.Variable(np.ones((2, 4, 4, 3), "float32"))
    with tf.GradientTape() as tape:
        loss = gradient_attention_loss(tf.constant(j.numpy()), j)
    assert np.all(np.isfinite(tape.gradient(loss, j).numpy()))


def test_normalized_gradient_attention_matches_numpy_and_ignores_scale():
    rng = np.random.default_rng(3)
    jt, js = (rng.normal(size=(4, 5, 5, 3)).astype("float32") for _ in range(2))
    unit = [
        j.reshape(4, -1) / np.linalg.norm(j.reshape(4, -1), axis=1, keepdims=True) for j in (jt, js)
    ]
    expected = np.mean(np.linalg.norm(unit[1] - unit[0], axis=1))
    got = gradient_attention_loss(jt, js, normalize=True)
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)
    # Only the direction counts: scaling either gradient changes nothing.
    scaled = gradient_attention_loss(100.0 * jt, 0.01 * js, normalize=True)
    np.testing.assert_allclose(float(scaled), expected, rtol=1e-5)
    assert 0.0 <= float(got) <= 2.0
    # ... while the paper's form grows with the gradients' scale.
    assert float(gradient_attention_loss(100.0 * jt, js)) > 10 * float(
        gradient_attention_loss(jt, js)
    )


def test_normalized_gradient_attention_is_finite_for_a_zero_gradient():
    zero = tf.zeros((2, 3, 3, 1))
    j = tf.Variable(tf.ones((2, 3, 3, 1)))
    with tf.GradientTape() as tape:
        loss = gradient_attention_loss(zero, j, normalize=True)
    np.testing.assert_allclose(float(loss), 1.0, rtol=1e-6)
    assert np.all(np.isfinite(tape.gradient(loss, j).numpy()))
