import numpy as np
import pytest

from keras_kd.losses import nst_loss
from tests.losses.test_attention import numpy_pool


def numpy_nst(t, s):
    size = (min(t.shape[1], s.shape[1]), min(t.shape[2], s.shape[2]))
    t, s = numpy_pool(t, size), numpy_pool(s, size)
    total = 0.0
    for tb, sb in zip(t, s, strict=True):
        tv = tb.reshape(-1, tb.shape[-1]).T
        sv = sb.reshape(-1, sb.shape[-1]).T
        tv = tv / np.linalg.norm(tv, axis=1, keepdims=True)
        sv = sv / np.linalg.norm(sv, axis=1, keepdims=True)

        def k(a, b):
            return np.mean([[np.dot(ai, bj) ** 2 for bj in b] for ai in a])

        total += k(tv, tv) + k(sv, sv) - 2 * k(sv, tv)
    return total / len(t)


@pytest.mark.parametrize(
    "t_shape,s_shape", [((2, 4, 4, 6), (2, 4, 4, 3)), ((3, 8, 8, 4), (3, 4, 4, 4))]
)
def test_matches_numpy(t_shape, s_shape):
    rng = np.random.default_rng(0)
    t, s = rng.normal(size=t_shape), rng.normal(size=s_shape)
    np.testing.assert_allclose(float(nst_loss(t, s)), numpy_nst(t, s), rtol=1e-4)


def test_zero_when_equal_non_negative_and_scale_invariant():
    rng = np.random.default_rng(1)
    t, s = rng.normal(size=(2, 4, 4, 5)), rng.normal(size=(2, 4, 4, 3))
    assert float(nst_loss(t, t)) == pytest.approx(0.0, abs=1e-6)
    assert float(nst_loss(t, s)) > 0
    assert float(nst_loss(3 * t, 0.2 * s)) == pytest.approx(float(nst_loss(t, s)), rel=1e-4)
