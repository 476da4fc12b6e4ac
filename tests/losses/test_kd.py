import numpy as np
import pytest

from keras_kd.losses import kd_loss


def softmax(z, t):
    e = np.exp(z / t - (z / t).max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def numpy_kd(t_logits, s_logits, temperature):
    total = 0.0
    for t_row, s_row in zip(t_logits, s_logits, strict=True):
        p_t, p_s = softmax(t_row, temperature), softmax(s_row, temperature)
        total += sum(p_t[i] * (np.log(p_t[i]) - np.log(p_s[i])) for i in range(len(p_t)))
    return temperature**2 * total / len(t_logits)


@pytest.mark.parametrize("shape", [(8, 10), (3, 2), (16, 100)])
@pytest.mark.parametrize("temperature", [1.0, 4.0, 20.0])
def test_matches_numpy(shape, temperature):
    rng = np.random.default_rng(0)
    t, s = rng.normal(0, 3, shape), rng.normal(0, 3, shape)
    np.testing.assert_allclose(
        float(kd_loss(t, s, temperature)), numpy_kd(t, s, temperature), rtol=1e-4, atol=1e-4
    )


def test_reference_value_that_keras_distillation_gets_wrong():
    # REFERENCES.md: random 8x10 logits at T=4, where the Hinton loss is ~6
    # and keras.distillation's default string loss gives ~25.
    rng = np.random.default_rng(1)
    t, s = rng.normal(0, 3, (8, 10)), rng.normal(0, 3, (8, 10))
    assert float(kd_loss(t, s, 4.0)) == pytest.approx(numpy_kd(t, s, 4.0), rel=1e-4)


def test_zero_when_equal_and_non_negative():
    rng = np.random.default_rng(2)
    z = rng.normal(0, 5, (6, 7))
    assert float(kd_loss(z, z, 3.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(kd_loss(z, rng.normal(0, 5, (6, 7)), 3.0)) > 0


def test_invariant_to_constant_shift_of_teacher_logits():
    rng = np.random.default_rng(3)
    t, s = rng.normal(0, 3, (8, 10)), rng.normal(0, 3, (8, 10))
    assert float(kd_loss(t + 5.0, s, 4.0)) == pytest.approx(float(kd_loss(t, s, 4.0)), rel=1e-5)


def test_worked_example_soft_targets():
    logits = np.array([5.0, 1.0])
    assert softmax(logits, 1.0)[0] == pytest.approx(0.982, abs=1e-3)
    assert softmax(logits, 10.0)[0] == pytest.approx(0.599, abs=1e-3)
    # The same distributions through kd_loss: KL(p_t || p_s) against a uniform
    # student is log 2 - H(p_t), scaled by T^2.
    for temperature, p in ((1.0, 0.982), (10.0, 0.599)):
        entropy = -(p * np.log(p) + (1 - p) * np.log(1 - p))
        expected = temperature**2 * (np.log(2) - entropy)
        got = float(kd_loss(logits[None], np.zeros((1, 2)), temperature))
        assert got == pytest.approx(expected, rel=2e-2)


def test_sample_weight_is_sum_over_batch_size():
    rng = np.random.default_rng(4)
    t, s = rng.normal(0, 3, (4, 5)), rng.normal(0, 3, (4, 5))
    w = np.array([1.0, 0.0, 2.0, 0.5])
    per_sample = [numpy_kd(t[i : i + 1], s[i : i + 1], 2.0) for i in range(4)]
    expected = float(np.sum(w * per_sample) / 4)
    assert float(kd_loss(t, s, 2.0, sample_weight=w)) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "4", None])
def test_rejects_bad_temperature(bad):
    with pytest.raises(ValueError, match="temperature"):
        kd_loss(np.zeros((1, 2)), np.zeros((1, 2)), bad)
