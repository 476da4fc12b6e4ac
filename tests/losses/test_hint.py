import numpy as np
import pytest
import tensorflow as tf

from keras_kd.losses import hint_loss


@pytest.mark.parametrize("shape", [(4, 8, 8, 3), (2, 5), (3, 4, 4, 16)])
def test_matches_numpy_mse(shape):
    rng = np.random.default_rng(0)
    t, s = rng.normal(size=shape), rng.normal(size=shape)
    np.testing.assert_allclose(float(hint_loss(t, s)), np.mean((s - t) ** 2), rtol=1e-5)


def test_zero_when_equal_and_finite_gradient():
    x = tf.Variable(np.random.default_rng(1).normal(size=(2, 4, 4, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        loss = hint_loss(tf.constant(x.numpy()), x)
    assert float(loss) == 0.0
    assert np.all(np.isfinite(tape.gradient(loss, x).numpy()))
