import numpy as np
import pytest
import tensorflow as tf

from keras_kd.losses import activation_boundary_loss


def numpy_ab(t, s, m):
    total = 0.0
    for tb, sb in zip(t, s, strict=True):
        for tv, sv in zip(tb.ravel(), sb.ravel(), strict=True):
            if sv > -m and tv <= 0:
                total += (sv + m) ** 2
            if sv <= m and tv > 0:
                total += (sv - m) ** 2
    return total / len(t)


@pytest.mark.parametrize("shape", [(2, 4, 4, 3), (3, 6)])
@pytest.mark.parametrize("margin", [0.0, 0.5, 1.0, 2.0])
def test_matches_numpy(shape, margin):
    rng = np.random.default_rng(0)
    t, s = rng.normal(size=shape), rng.normal(size=shape) * 2
    np.testing.assert_allclose(
        float(activation_boundary_loss(t, s, margin)), numpy_ab(t, s, margin), rtol=1e-5
    )


def test_zero_when_student_is_beyond_the_margin_on_the_teachers_side():
    t = np.array([[1.0, -1.0, 0.5, -0.2]])
    s = np.array([[2.0, -3.0, 1.5, -1.0]])  # same sign as t, |s| >= m = 1
    assert float(activation_boundary_loss(t, s, 1.0)) == 0.0


def test_gradient_pushes_student_to_the_teachers_side():
    t = tf.constant([[1.0, -1.0]])
    s = tf.Variable([[0.0, 0.0]])
    with tf.GradientTape() as tape:
        loss = activation_boundary_loss(t, s, 1.0)
    grad = tape.gradient(loss, s).numpy()
    assert grad[0, 0] < 0 < grad[0, 1]  # descent raises s[0] and lowers s[1]
