import numpy as np
import pytest

from keras_kd.losses import dist_loss, kd_loss
from keras_kd.losses.dist import _pearson_rows

EPS = 1e-8  # the authors' epsilon in the correlation's denominator


def softmax_rows(z, tau):
    e = np.exp(z / tau - (z / tau).max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def pearson(u, v):
    u, v = u - u.mean(), v - v.mean()
    return float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v) + EPS))


def numpy_inter_intra(t, s, tau):
    y_t, y_s = softmax_rows(t, tau), softmax_rows(s, tau)
    inter = 1 - np.mean([pearson(y_s[i], y_t[i]) for i in range(y_t.shape[0])])
    intra = 1 - np.mean([pearson(y_s[:, j], y_t[:, j]) for j in range(y_t.shape[1])])
    return tau**2 * inter, tau**2 * intra


def numpy_dist(t, s, tau, inter_weight, intra_weight):
    inter, intra = numpy_inter_intra(t, s, tau)
    return inter_weight * inter + intra_weight * intra


def draw(seed, shape, scale=3.0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, scale, shape), rng.normal(0, scale, shape)


@pytest.mark.parametrize("shape", [(8, 10), (2, 3), (5, 2), (32, 100)])
@pytest.mark.parametrize("tau", [1.0, 4.0])
@pytest.mark.parametrize("weights", [(1.0, 1.0), (2.0, 1.0), (0.5, 3.0)])
def test_matches_numpy(shape, tau, weights):
    t, s = draw(0, shape)
    expected = numpy_dist(t, s, tau, *weights)
    got = float(dist_loss(t, s, tau, *weights))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_terms_are_linear_in_their_weights():
    t, s = draw(1, (8, 10))
    inter = float(dist_loss(t, s, 4.0, 1.0, 0.0))
    intra = float(dist_loss(t, s, 4.0, 0.0, 1.0))
    assert float(dist_loss(t, s, 4.0, 2.0, 0.5)) == pytest.approx(2 * inter + 0.5 * intra, rel=1e-5)


def test_zero_when_equal_and_bounded():
    t, s = draw(2, (8, 10))
    for tau in (1.0, 4.0):
        # 1 - ||a||^2 / (||a||^2 + eps): zero up to the epsilon.
        assert float(dist_loss(t, t, tau)) == pytest.approx(0.0, abs=1e-5 * tau**2)
        # 1 - pearson lies in [0, 2] for each term.
        got = float(dist_loss(t, s, tau, 1.0, 1.0))
        assert 0 < got <= 2 * tau**2 * 2


def test_invariant_to_adding_constants_to_either_logits():
    # softmax is shift invariant, per sample: the same predictions, the same loss.
    t, s = draw(3, (8, 10))
    base = float(dist_loss(t, s, 4.0))
    per_row = np.random.default_rng(4).normal(0, 10, (8, 1))
    assert float(dist_loss(t + 5.0, s, 4.0)) == pytest.approx(base, rel=1e-5)
    assert float(dist_loss(t, s - 2.0, 4.0)) == pytest.approx(base, rel=1e-5)
    assert float(dist_loss(t + per_row, s - per_row[::-1], 4.0)) == pytest.approx(base, rel=1e-5)


def test_invariant_to_permuting_samples_or_classes_together():
    t, s = draw(5, (8, 10))
    base = float(dist_loss(t, s, 1.0))
    rows, cols = np.random.default_rng(6).permutation(8), np.random.default_rng(7).permutation(10)
    assert float(dist_loss(t[rows], s[rows], 1.0)) == pytest.approx(base, rel=1e-5)
    assert float(dist_loss(t[:, cols], s[:, cols], 1.0)) == pytest.approx(base, rel=1e-5)


def test_pearson_invariant_to_positive_affine_maps():
    rng = np.random.default_rng(8)
    a, b = rng.uniform(0, 1, (4, 10)), rng.uniform(0, 1, (4, 10))
    base = _pearson_rows(a, b).numpy()
    expected = [pearson(a[i], b[i]) for i in range(4)]
    np.testing.assert_allclose(base, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_pearson_rows(3 * a + 1, b).numpy(), base, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(_pearson_rows(a, 0.2 * b - 5).numpy(), base, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(_pearson_rows(-2 * a, b).numpy(), -base, rtol=1e-4, atol=1e-6)


def mixed_with_uniform(s, tau, lam):
    """Teacher logits whose predictions are lam * Y_s + (1 - lam) / C."""
    y_s = softmax_rows(s, tau)
    return tau * np.log(lam * y_s + (1 - lam) / s.shape[1])


@pytest.mark.parametrize("tau", [1.0, 4.0])
def test_relations_not_values(tau):
    # A teacher whose predictions are the student's mixed with the uniform
    # distribution: a positive affine map of every row and every column, so
    # both Pearson terms vanish, while KD does not.
    _, s = draw(9, (8, 10))
    t = mixed_with_uniform(s, tau, 0.3)
    assert float(kd_loss(t, s, tau)) > 0.1
    assert float(dist_loss(t, s, tau)) == pytest.approx(0.0, abs=1e-4 * tau**2)
    # A different mixing weight per sample keeps each row affine (inter = 0)
    # but not the columns (intra > 0).
    lam = np.linspace(0.1, 0.9, 8)[:, None]
    t = mixed_with_uniform(s, tau, lam)
    assert float(dist_loss(t, s, tau, 1.0, 0.0)) == pytest.approx(0.0, abs=1e-4 * tau**2)
    intra = float(dist_loss(t, s, tau, 0.0, 1.0))
    assert intra > 1e-3 * tau**2
    assert intra == pytest.approx(numpy_inter_intra(t, s, tau)[1], rel=1e-3)


@pytest.mark.parametrize("name", ["inter_weight", "intra_weight"])
@pytest.mark.parametrize("bad", [-1.0, float("nan"), "1", None])
def test_rejects_bad_weights(name, bad):
    with pytest.raises(ValueError, match=name):
        dist_loss(np.zeros((2, 3)), np.zeros((2, 3)), **{name: bad})


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_rejects_bad_temperature(bad):
    with pytest.raises(ValueError, match="temperature"):
        dist_loss(np.zeros((2, 3)), np.zeros((2, 3)), temperature=bad)
