import numpy as np
import pytest

from keras_kd.losses import factor_transfer_loss


def numpy_ft(t, s, p):
    t = t.reshape(len(t), -1)
    s = s.reshape(len(s), -1)
    t = t / np.linalg.norm(t, axis=1, keepdims=True)
    s = s / np.linalg.norm(s, axis=1, keepdims=True)
    return np.mean(np.abs(s - t) ** p)


@pytest.mark.parametrize("shape", [(2, 4, 4, 8), (5, 2, 2, 3)])
@pytest.mark.parametrize("p", [1, 2])
def test_matches_numpy(shape, p):
    rng = np.random.default_rng(0)
    t, s = rng.normal(size=shape), rng.normal(size=shape)
    np.testing.assert_allclose(float(factor_transfer_loss(t, s, p)), numpy_ft(t, s, p), rtol=1e-5)


def test_zero_when_equal_and_scale_invariant():
    rng = np.random.default_rng(1)
    t, s = rng.normal(size=(3, 4, 4, 2)), rng.normal(size=(3, 4, 4, 2))
    assert float(factor_transfer_loss(t, t)) == pytest.approx(0.0, abs=1e-7)
    base = float(factor_transfer_loss(t, s))
    assert float(factor_transfer_loss(4 * t, 0.5 * s)) == pytest.approx(base, rel=1e-5)
