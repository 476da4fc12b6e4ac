import numpy as np
import pytest

from keras_kd.losses import dkd_loss, kd_loss, standardize_logits


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def kl(p, q):
    return float(np.sum(p * (np.log(p) - np.log(q))))


def numpy_terms(t_row, s_row, target, temperature):
    """TCKD, NCKD and the teacher's target probability of one sample (no T^2).

    The non-target distribution is the softmax over the other classes' logits
    (the definition; keras_kd masks the target logit instead).
    """
    p_t, p_s = softmax(t_row / temperature), softmax(s_row / temperature)
    b_t = np.array([p_t[target], np.delete(p_t, target).sum()])
    b_s = np.array([p_s[target], np.delete(p_s, target).sum()])
    hat_t = softmax(np.delete(t_row, target) / temperature)
    hat_s = softmax(np.delete(s_row, target) / temperature)
    return kl(b_t, b_s), kl(hat_t, hat_s), p_t[target]


def numpy_dkd_per_sample(t, s, labels, temperature, alpha, beta):
    out = []
    for t_row, s_row, target in zip(t, s, labels, strict=True):
        tckd, nckd, _ = numpy_terms(t_row, s_row, target, temperature)
        out.append(temperature**2 * (alpha * tckd + beta * nckd))
    return np.array(out)


def numpy_kd_per_sample(t, s, temperature):
    return np.array(
        [
            temperature**2 * kl(softmax(t_row / temperature), softmax(s_row / temperature))
            for t_row, s_row in zip(t, s, strict=True)
        ]
    )


def numpy_standardize(z):
    z = np.asarray(z, dtype=np.float64)
    mean = z.mean(axis=-1, keepdims=True)
    return (z - mean) / (z.std(axis=-1, ddof=1, keepdims=True) + 1e-7)


def draw(seed, shape, scale=3.0):
    rng = np.random.default_rng(seed)
    t, s = rng.normal(0, scale, shape), rng.normal(0, scale, shape)
    return t, s, rng.integers(0, shape[-1], shape[0])


@pytest.mark.parametrize("shape", [(6, 5), (4, 2), (3, 10), (16, 100)])
@pytest.mark.parametrize("temperature,alpha,beta", [(4.0, 1.0, 8.0), (2.0, 0.5, 2.0), (1.0, 1, 1)])
def test_matches_numpy(shape, temperature, alpha, beta):
    t, s, y = draw(0, shape)
    expected = numpy_dkd_per_sample(t, s, y, temperature, alpha, beta).mean()
    got = float(dkd_loss(t, s, y, temperature, alpha, beta))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_two_classes_have_no_non_target_term():
    # One non-target class: its softmax is [1] for both networks, NCKD = 0.
    t, s, y = draw(1, (5, 2))
    assert float(dkd_loss(t, s, y, 4.0, alpha=0.0, beta=1.0)) == pytest.approx(0.0, abs=1e-6)


def test_label_formats_agree():
    t, s, y = draw(2, (6, 7))
    sparse = float(dkd_loss(t, s, y))
    assert float(dkd_loss(t, s, y[:, None])) == pytest.approx(sparse, rel=1e-6)
    assert float(dkd_loss(t, s, np.eye(7)[y])) == pytest.approx(sparse, rel=1e-6)


def test_kd_is_tckd_plus_weighted_nckd_numpy():
    # KD = TCKD + (1 - p_target(teacher)) * NCKD, per sample (DKD paper, eq. 4).
    t, s, y = draw(3, (8, 6))
    for temperature in (1.0, 4.0):
        kd = numpy_kd_per_sample(t, s, temperature) / temperature**2
        for i in range(len(y)):
            tckd, nckd, p_target = numpy_terms(t[i], s[i], y[i], temperature)
            assert kd[i] == pytest.approx(tckd + (1 - p_target) * nckd, rel=1e-10)


def test_kd_is_tckd_plus_weighted_nckd_keras_kd():
    # The same identity through keras_kd: NCKD weighted per sample by
    # 1 - p_target(teacher) with sample_weight, plus TCKD, is KD.
    t, s, y = draw(4, (8, 6))
    temperature = 4.0
    p_target = np.array([softmax(row / temperature)[k] for row, k in zip(t, y, strict=True)])
    tckd = float(dkd_loss(t, s, y, temperature, alpha=1.0, beta=0.0))
    nckd = float(dkd_loss(t, s, y, temperature, 0.0, 1.0, sample_weight=1 - p_target))
    assert tckd + nckd == pytest.approx(float(kd_loss(t, s, temperature)), rel=1e-5)


def test_alpha_beta_one_is_kd_plus_a_non_negative_gap():
    # DKD(alpha = beta = 1) is not KD: it drops the (1 - p_target) factor on
    # NCKD, so DKD(1, 1) - KD = T^2 * mean(p_target * NCKD) >= 0.
    t, s, y = draw(5, (8, 6))
    temperature = 2.0
    gap = np.mean(
        [
            temperature**2 * p_target * nckd
            for _, nckd, p_target in (
                numpy_terms(t[i], s[i], y[i], temperature) for i in range(len(y))
            )
        ]
    )
    dkd = float(dkd_loss(t, s, y, temperature, alpha=1.0, beta=1.0))
    kd = float(kd_loss(t, s, temperature))
    assert gap > 0
    assert dkd - kd == pytest.approx(gap, rel=1e-4)


def test_zero_when_equal_and_non_negative():
    t, s, y = draw(6, (6, 7), scale=5.0)
    assert float(dkd_loss(t, t, y)) == pytest.approx(0.0, abs=1e-5)
    assert float(dkd_loss(t, s, y)) > 0


def test_sample_weights():
    t, s, y = draw(7, (5, 6))
    w = np.array([1.0, 0.0, 2.0, 0.5, 1.0])
    per_sample = numpy_dkd_per_sample(t, s, y, 4.0, 1.0, 8.0)
    got = float(dkd_loss(t, s, y, sample_weight=w))
    assert got == pytest.approx(float(np.sum(w * per_sample) / 5), rel=1e-4)


def test_zero_weight_removes_a_sample():
    t, s, y = draw(8, (5, 6))
    w = np.array([1.0, 1.0, 0.0, 1.0, 1.0])
    keep = w > 0
    weighted = float(dkd_loss(t, s, y, sample_weight=w))
    # sum over the kept samples / full batch size (keras' sum_over_batch_size).
    kept = float(dkd_loss(t[keep], s[keep], y[keep]))
    assert weighted * 5 == pytest.approx(kept * 4, rel=1e-5)
    # Whatever the removed sample holds (within finite losses: see the
    # saturation tests below).
    s2, y2 = s.copy(), y.copy()
    s2[2], y2[2] = np.random.default_rng(18).normal(0, 10, 6), (y[2] + 1) % 6
    assert float(dkd_loss(t, s2, y2, sample_weight=w)) == pytest.approx(weighted, rel=1e-6)


def test_invariant_to_constant_shift_of_either_logits():
    t, s, y = draw(9, (6, 8))
    base = float(dkd_loss(t, s, y))
    assert float(dkd_loss(t + 7.0, s, y)) == pytest.approx(base, rel=1e-5)
    assert float(dkd_loss(t, s - 3.0, y)) == pytest.approx(base, rel=1e-5)


def test_standardize_matches_numpy():
    t, s, y = draw(10, (6, 8))
    t = 4.0 * t + 2.0
    expected = numpy_dkd_per_sample(numpy_standardize(t), numpy_standardize(s), y, 2.0, 9.0, 72.0)
    got = float(dkd_loss(t, s, y, 2.0, 9.0, 72.0, standardize=True))
    np.testing.assert_allclose(got, expected.mean(), rtol=1e-4)


def test_standardized_dkd_ignores_teacher_logit_scale():
    t, s, y = draw(11, (6, 8))
    base = float(dkd_loss(t, s, y, 2.0, standardize=True))
    assert float(dkd_loss(3 * t + 1, s, y, 2.0, standardize=True)) == pytest.approx(base, rel=1e-4)
    assert float(dkd_loss(3 * t + 1, s, y, 2.0)) != pytest.approx(float(dkd_loss(t, s, y, 2.0)))


# Saturated softmax: a probability that underflows to 0 in float32. The loss
# is finite (float64 closed form; the authors' dkd_loss in torch float32 also
# gives a finite number: F.kl_div takes 0 * log 0 = 0 and torch keeps
# subnormal probabilities). keras_kd takes the log of the summed
# probabilities b = [p_target, 1 - p_target] in float32, so it returns NaN or
# inf there, and a zero sample weight cannot remove such a sample (0 * inf).
SATURATED = {
    # The teacher's non-target mass exp(-100) -> 0: 0 * log 0 = NaN in TCKD.
    # The authors' code: 23.6942 (float32) at T = 4 and 4.88308 at T = 1.
    "teacher_t4": ([[0.0, 0.0, 0.0, 0.0, 400.0]], [[0.0, 1.0, 2.0, 3.0, 4.0]], 4.0),
    "teacher_t1": ([[0.0, 0.0, 0.0, 0.0, 110.0]], [[0.0, 1.0, 2.0, 3.0, 4.0]], 1.0),
    # The student's target probability exp(-100) underflows float32 (log 0 = -inf)
    # unless the binary distribution is taken in log space.
    # The authors' code: 10997.68 (float32), 10997.76 (float64).
    "student_t4": ([[0.0, 1.0, 2.0, 3.0, 4.0]], [[400.0, 0.0, 0.0, 0.0, 0.0]], 4.0),
}


@pytest.mark.parametrize("case", sorted(SATURATED))
def test_saturated_softmax_gives_a_finite_loss(case):
    t, s, temperature = SATURATED[case]
    t, s, y = np.array(t), np.array(s), np.array([4])
    expected = numpy_dkd_per_sample(t, s, y, temperature, 1.0, 8.0).mean()
    got = float(dkd_loss(t.astype(np.float32), s.astype(np.float32), y, temperature))
    assert np.isfinite(got)
    assert got == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("name", ["alpha", "beta"])
@pytest.mark.parametrize("bad", [-1.0, float("nan"), "1", None])
def test_rejects_bad_weights(name, bad):
    with pytest.raises(ValueError, match=name):
        dkd_loss(np.zeros((2, 3)), np.zeros((2, 3)), [0, 1], **{name: bad})


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_rejects_bad_temperature(bad):
    with pytest.raises(ValueError, match="temperature"):
        dkd_loss(np.zeros((2, 3)), np.zeros((2, 3)), [0, 1], temperature=bad)


# Logit standardization (Sun et al., CVPR 2024), shared by kd_loss and dkd_loss.


@pytest.mark.parametrize("shape", [(4, 10), (3, 2), (8, 100)])
def test_standardize_logits_matches_numpy(shape):
    z = np.random.default_rng(12).normal(1.0, 3.0, shape)
    np.testing.assert_allclose(
        standardize_logits(z).numpy(), numpy_standardize(z), rtol=1e-5, atol=1e-5
    )


def test_standardize_logits_zero_mean_unit_sample_std():
    z = standardize_logits(np.random.default_rng(13).normal(5.0, 4.0, (6, 9))).numpy()
    np.testing.assert_allclose(z.mean(axis=-1), 0.0, atol=1e-6)
    np.testing.assert_allclose(z.std(axis=-1, ddof=1), 1.0, rtol=1e-5)


def test_standardize_logits_invariant_to_shift_and_positive_scale():
    z = np.random.default_rng(14).normal(0.0, 2.0, (6, 9))
    base = standardize_logits(z).numpy()
    for scale, shift in ((3.0, 1.0), (0.25, -7.0), (1.0, 100.0)):
        np.testing.assert_allclose(
            standardize_logits(scale * z + shift).numpy(), base, rtol=1e-4, atol=1e-5
        )
    # Per-sample shifts and scales too: each row is standardized alone.
    scales, shifts = np.array([[1.0], [2.0], [0.5], [3.0], [1.5], [4.0]]), np.arange(6.0)[:, None]
    np.testing.assert_allclose(
        standardize_logits(scales * z + shifts).numpy(), base, rtol=1e-4, atol=1e-5
    )
    # A negative scale flips the sign.
    np.testing.assert_allclose(standardize_logits(-2.0 * z).numpy(), -base, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("temperature", [2.0, 4.0])
def test_standardized_kd_equal_for_z_and_3z_plus_1(temperature):
    t, s, _ = draw(15, (6, 10))
    base = float(kd_loss(t, s, temperature, standardize=True))
    assert float(kd_loss(3 * t + 1, s, temperature, standardize=True)) == pytest.approx(
        base, rel=1e-4
    )
    assert float(kd_loss(t, 0.5 * s - 2, temperature, standardize=True)) == pytest.approx(
        base, rel=1e-4
    )
    # Without standardization the teacher's range matters.
    plain = float(kd_loss(t, s, temperature))
    assert float(kd_loss(3 * t + 1, s, temperature)) != pytest.approx(plain, rel=1e-2)


def test_standardized_kd_matches_numpy():
    t, s, _ = draw(16, (6, 10))
    expected = numpy_kd_per_sample(numpy_standardize(4 * t + 2), numpy_standardize(s), 2.0)
    got = float(kd_loss(4 * t + 2, s, 2.0, standardize=True))
    np.testing.assert_allclose(got, expected.mean(), rtol=1e-4)
