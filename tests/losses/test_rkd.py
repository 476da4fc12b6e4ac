import numpy as np
import pytest

from keras_kd.losses import rkd_loss


def huber(a, b):
    d = np.abs(a - b)
    return np.mean(np.where(d < 1, 0.5 * d**2, d - 0.5))


def numpy_distances(e):
    n = len(e)
    d = np.array([[np.linalg.norm(e[i] - e[j]) for j in range(n)] for i in range(n)])
    return d / d[d > 0].mean()


def numpy_angles(e):
    n = len(e)
    out = np.zeros((n, n, n))
    for i in range(n):
        for j in range(n):
            for k in range(n):
                u, v = e[j] - e[i], e[k] - e[i]
                if np.linalg.norm(u) > 0 and np.linalg.norm(v) > 0:
                    out[i, j, k] = np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v)
    return out


def numpy_rkd(t, s, dw, aw):
    t, s = t.reshape(len(t), -1), s.reshape(len(s), -1)
    return dw * huber(numpy_distances(s), numpy_distances(t)) + aw * huber(
        numpy_angles(s), numpy_angles(t)
    )


@pytest.mark.parametrize("t_dim,s_dim", [(8, 8), (16, 4)])
@pytest.mark.parametrize("weights", [(25.0, 50.0), (1.0, 0.0), (0.0, 2.0)])
def test_matches_numpy(t_dim, s_dim, weights):
    rng = np.random.default_rng(0)
    t, s = rng.normal(size=(6, t_dim)), rng.normal(size=(6, s_dim)) * 3
    np.testing.assert_allclose(
        float(rkd_loss(t, s, *weights)), numpy_rkd(t, s, *weights), rtol=1e-4, atol=1e-6
    )


def test_zero_when_equal_and_invariant_to_rotation_translation_scale():
    rng = np.random.default_rng(1)
    t = rng.normal(size=(5, 4))
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    moved = 2.5 * t @ q + rng.normal(size=(1, 4))
    assert float(rkd_loss(t, t)) == pytest.approx(0.0, abs=1e-6)
    assert float(rkd_loss(t, moved)) == pytest.approx(0.0, abs=1e-4)


def test_duplicate_embeddings_give_finite_values():
    t = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    s = np.array([[1.0, 1.0], [2.0, 0.0], [2.0, 0.0]])
    value = float(rkd_loss(t, s))
    assert np.isfinite(value)
    np.testing.assert_allclose(value, numpy_rkd(t, s, 25.0, 50.0), rtol=1e-4)
