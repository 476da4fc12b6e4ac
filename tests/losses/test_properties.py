"""Property tests of the losses' invariants (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_kd.losses import (
    attention_transfer_loss,
    factor_transfer_loss,
    kd_loss,
    nst_loss,
    rkd_loss,
)

SETTINGS = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**16)
scales = st.floats(0.05, 20.0)


def normal(seed, shape, offset=0):
    return np.random.default_rng(seed + offset).normal(size=shape).astype("float32")


@SETTINGS
@given(
    seed=seeds,
    batch=st.integers(1, 6),
    classes=st.integers(2, 10),
    shift=st.floats(-50, 50),
    t=st.floats(0.5, 20),
)
def test_kd_is_non_negative_and_shift_invariant(seed, batch, classes, shift, t):
    teacher, student = 5 * normal(seed, (batch, classes)), 5 * normal(seed, (batch, classes), 1)
    base = float(kd_loss(teacher, student, t))
    assert base >= -1e-5
    assert abs(float(kd_loss(teacher + shift, student, t)) - base) <= 1e-3 * max(1.0, base)


@SETTINGS
@given(seed=seeds, a=scales, b=scales)
def test_attention_transfer_is_invariant_to_positive_scaling(seed, a, b):
    t, s = normal(seed, (2, 8, 8, 4)), normal(seed, (2, 4, 4, 6), 1)
    base = float(attention_transfer_loss(t, s))
    assert abs(float(attention_transfer_loss(a * t, b * s)) - base) <= 1e-4 * max(1e-3, base) + 1e-7


@SETTINGS
@given(seed=seeds, a=scales, b=scales)
def test_nst_is_invariant_to_positive_scaling(seed, a, b):
    t, s = normal(seed, (2, 4, 4, 5)), normal(seed, (2, 4, 4, 3), 1)
    base = float(nst_loss(t, s))
    assert abs(float(nst_loss(a * t, b * s)) - base) <= 1e-4 * max(1e-3, base) + 1e-6


@SETTINGS
@given(seed=seeds, a=scales, b=scales, p=st.sampled_from([1, 2]))
def test_factor_transfer_is_invariant_to_positive_scaling(seed, a, b, p):
    t, s = normal(seed, (3, 2, 2, 4)), normal(seed, (3, 2, 2, 4), 1)
    base = float(factor_transfer_loss(t, s, p))
    assert abs(float(factor_transfer_loss(a * t, b * s, p)) - base) <= 1e-4 * max(1e-3, base) + 1e-6


@SETTINGS
@given(seed=seeds, dim=st.integers(2, 8), batch=st.integers(3, 7), scale=scales)
def test_rkd_is_invariant_to_a_common_rotation_translation_and_scale(seed, dim, batch, scale):
    t, s = normal(seed, (batch, dim)), normal(seed, (batch, dim), 1)
    rotation, _ = np.linalg.qr(normal(seed, (dim, dim), 2))
    shift = normal(seed, (1, dim), 3)
    base = float(rkd_loss(t, s))
    moved = float(rkd_loss(t @ rotation + shift, scale * (s @ rotation) - shift))
    assert abs(moved - base) <= 1e-3 * max(1.0, base)
