"""WTTM: the loss against NumPy and its invariants, the term's refusals, the
teacher cache (values against the authors' code: tests/losses/test_reference_values.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_kd.cache import cache_teacher_outputs
from keras_kd.distillers import WTTM, WTTMTerm
from keras_kd.distillers.wttm import wttm_loss
from keras_kd.losses import kd_loss
from tests.helpers import assert_same, snapshot, tiny_cnn, tiny_data, tiny_pair


def numpy_wttm_per_sample(t, s, gamma):
    """U * KL(p_t^gamma / U || softmax(s)), U = sum(p_t^gamma), written out per row."""
    out = []
    for t_row, s_row in zip(t.astype(np.float64), s.astype(np.float64), strict=True):
        p_t = np.exp(t_row - t_row.max())
        p_t /= p_t.sum()
        powered = p_t**gamma
        u = powered.sum()
        q = powered / u
        p_s = np.exp(s_row - s_row.max())
        p_s /= p_s.sum()
        out.append(u * np.sum(q * (np.log(q) - np.log(p_s))))
    return np.array(out)


def logits(shape, seed, scale=3.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype("float32")


@pytest.mark.parametrize("gamma", [0.1, 0.2, 0.5, 1.0, 2.0])
def test_matches_numpy(gamma):
    t, s = logits((7, 10), 0), logits((7, 10), 1)
    expected = numpy_wttm_per_sample(t, s, gamma).mean()
    np.testing.assert_allclose(float(wttm_loss(t, s, gamma)), expected, rtol=2e-6)


def test_sample_weights_are_sum_w_l_over_batch():
    t, s = logits((6, 5), 2), logits((6, 5), 3)
    w = np.array([1.0, 0.0, 2.0, 0.5, 1.0, 3.0], "float32")
    expected = np.dot(w, numpy_wttm_per_sample(t, s, 0.2)) / 6
    np.testing.assert_allclose(float(wttm_loss(t, s, 0.2, w)), expected, rtol=2e-6)


def test_zero_when_the_student_matches_the_transformed_teacher_and_positive_otherwise():
    t = logits((5, 10), 4)
    # softmax(gamma * z_t) is the transformed teacher: a student with those logits matches it.
    assert float(wttm_loss(t, 0.3 * t, 0.3)) == pytest.approx(0.0, abs=1e-6)
    assert float(wttm_loss(t, t, 0.3)) > 0.0  # TTM's student has no temperature
    assert float(wttm_loss(t, logits((5, 10), 5), 0.3)) > 0.0


def test_gamma_one_is_kd_at_temperature_one():
    t, s = logits((6, 10), 6), logits((6, 10), 7)
    np.testing.assert_allclose(float(wttm_loss(t, s, 1.0)), float(kd_loss(t, s, 1.0)), rtol=1e-5)


def test_invariant_to_a_constant_shift_of_either_logits():
    t, s = logits((4, 6), 8), logits((4, 6), 9)
    base = float(wttm_loss(t, s, 0.2))
    assert float(wttm_loss(t + 5.0, s - 3.0, 0.2)) == pytest.approx(base, rel=1e-5, abs=1e-6)


def test_flatter_teachers_weigh_more():
    # Same KL target shape, but U = sum p^gamma grows as the teacher flattens.
    s = np.zeros((1, 4), "float32")
    sharp, flat = np.array([[8.0, 0, 0, 0]], "float32"), np.array([[1.0, 0, 0, 0]], "float32")
    u = [np.sum(np.exp(z[0] - np.log(np.exp(z[0]).sum())) ** 0.2) for z in (sharp, flat)]
    assert u[1] > u[0]
    per_sample = numpy_wttm_per_sample(flat, s, 0.2)
    assert float(wttm_loss(flat, s, 0.2)) == pytest.approx(per_sample[0], rel=1e-4)


def test_saturated_teacher_gives_a_finite_loss():
    t = np.array([[200.0, -200.0, 0.0]], "float32")
    assert np.isfinite(float(wttm_loss(t, np.zeros((1, 3), "float32"), 0.2)))


@pytest.mark.parametrize("bad", [0.0, -0.2, float("nan"), "big"])
def test_bad_gamma_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match="gamma"):
        WTTMTerm(1.0, gamma=bad)
    with pytest.raises(ValueError, match="gamma"):
        wttm_loss(np.zeros((1, 3)), np.zeros((1, 3)), bad)


def test_a_single_logit_model_is_refused():
    keras.utils.set_random_seed(0)
    student, teacher = tiny_cnn("s", num_classes=1), tiny_cnn("t", num_classes=1)
    with pytest.raises(ValueError, match="at least 2 outputs.*use KD"):
        WTTM(student, teacher)


def test_trains_on_the_teacher_cache_with_the_same_terms():
    student, teacher = tiny_pair()
    wttm = WTTM(student, teacher)
    x, y = tiny_data(32)
    plain = tf.data.Dataset.from_tensor_slices((x, y))
    cache = cache_teacher_outputs(wttm, plain)
    teacher_before = snapshot(teacher)
    wttm.compile(optimizer=keras.optimizers.SGD(0.0))
    a = wttm.fit(plain.batch(8), epochs=1, verbose=0).history
    b = wttm.fit(cache.dataset.batch(8), epochs=1, verbose=0).history
    assert b["wttm_loss"][-1] == pytest.approx(a["wttm_loss"][-1], rel=1e-4, abs=1e-6)
    assert_same(teacher_before, snapshot(teacher))
