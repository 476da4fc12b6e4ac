import numpy as np
import pytest

from keras_kd.losses import fsp_loss, fsp_matrix
from tests.losses.test_attention import numpy_pool


def numpy_fsp(a, b):
    size = (min(a.shape[1], b.shape[1]), min(a.shape[2], b.shape[2]))
    a, b = numpy_pool(a, size), numpy_pool(b, size)
    bsz, h, w, c1 = a.shape
    g = np.zeros((bsz, c1, b.shape[-1]))
    for n in range(bsz):
        for i in range(c1):
            for j in range(b.shape[-1]):
                g[n, i, j] = np.sum(a[n, :, :, i] * b[n, :, :, j]) / (h * w)
    return g


def test_fsp_matrix_matches_numpy_with_alignment():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 8, 8, 3)), rng.normal(size=(2, 4, 4, 5))
    np.testing.assert_allclose(fsp_matrix(a, b).numpy(), numpy_fsp(a, b), rtol=1e-4, atol=1e-6)


def test_fsp_loss_matches_numpy_sum_over_consecutive_pairs():
    rng = np.random.default_rng(1)
    shapes = [(2, 8, 8, 4), (2, 8, 8, 4), (2, 4, 4, 6)]
    t = [rng.normal(size=s) for s in shapes]
    s = [rng.normal(size=s) for s in shapes]
    expected = sum(
        np.mean((numpy_fsp(s[k], s[k + 1]) - numpy_fsp(t[k], t[k + 1])) ** 2) for k in range(2)
    )
    np.testing.assert_allclose(float(fsp_loss(t, s)), expected, rtol=1e-4)
    assert float(fsp_loss(t, t)) == 0.0


def test_unequal_channels_raise_naming_shapes():
    with pytest.raises(ValueError, match=r"equal channel counts.*\(2, 4, 4, 3\).*\(2, 4, 4, 5\)"):
        fsp_loss([np.zeros((2, 4, 4, 3))] * 2, [np.zeros((2, 4, 4, 5))] * 2)


def test_needs_two_maps_of_equal_count():
    with pytest.raises(ValueError, match="equally long lists"):
        fsp_loss([np.zeros((1, 2, 2, 1))] * 3, [np.zeros((1, 2, 2, 1))] * 2)
