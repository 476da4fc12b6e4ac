"""CWD, PKD, the pair-wise term and GKD as distillers: each fits a
segmentation or masked sequence pair (teacher unchanged, student changed,
terms logged), logs what its loss function computes on the tapped maps,
saves and loads, and refuses maps it cannot compare (issue 28, points 3-4)."""

import keras
import numpy as np
import pytest

from keras_kd.distillers import CWD, GKD, KD, PKD, CWDTerm, PairwiseDistillation
from keras_kd.features import build_feature_extractor
from keras_kd.losses import cwd_loss, gkd_loss, pairwise_loss, pkd_loss
from tests.helpers import (
    assert_same,
    changed,
    segmentation_data,
    sequence_data,
    snapshot,
    tagger,
)


def taps(model, *names):
    return build_feature_extractor(model, list(names))


SEG_METHODS = {
    "cwd": (lambda s, t: CWD(s, t, temperature=2.0), "cwd_loss"),
    "pkd": (lambda s, t: PKD(s, t, ["neck"], ["neck"]), "pkd_loss"),
    "pairwise": (lambda s, t: PairwiseDistillation(s, t, ["mid"], ["mid"]), "pairwise_loss"),
}


@pytest.mark.parametrize("method", sorted(SEG_METHODS))
def test_dense_methods_fit_a_segmentation_pair(seg_pair, method):
    student, teacher = seg_pair
    build, term = SEG_METHODS[method]
    x, y = segmentation_data()
    distiller = build(student, teacher)
    distiller.compile(optimizer=keras.optimizers.SGD(0.05), metrics=["accuracy"])
    teacher_before, student_before = snapshot(teacher), snapshot(student)
    history = distiller.fit(x, y, batch_size=8, epochs=1, verbose=0).history
    assert_same(teacher_before, snapshot(teacher))
    assert changed(student_before, snapshot(student))
    for key in ("loss", "task_loss", term, "accuracy"):
        assert np.isfinite(history[key][0]), key
    assert history[term][0] > 0


def test_each_dense_term_logs_its_loss_on_the_tapped_maps(seg_pair):
    student, teacher = seg_pair
    x, y = segmentation_data(8, seed=11)
    s, t = taps(student, "mid", "neck")(x), taps(teacher, "mid", "neck")(x)
    expected = {
        "cwd_loss": cwd_loss(t["output"], s["output"], 2.0),
        "pkd_loss": pkd_loss(t["neck"], s["neck"]),
        "pairwise_loss": pairwise_loss(t["mid"], s["mid"], 0.5),
    }
    for method, (build, term) in SEG_METHODS.items():
        distiller = build(student, teacher)
        distiller.compile(optimizer=keras.optimizers.SGD(0.0))
        logs = distiller.train_on_batch(x, y, return_dict=True)
        assert logs[term] == pytest.approx(float(expected[term]), rel=1e-5), method


@pytest.mark.parametrize("beta, term", [(0.0, "forward"), (1.0, "reverse"), (0.5, "jsd")])
def test_gkd_fits_a_masked_sequence_pair(beta, term):
    keras.utils.set_random_seed(4)
    student, teacher = tagger("fresh_student", 6), tagger("fresh_teacher", 12)
    teacher.get_layer("logits").kernel.assign(teacher.get_layer("logits").kernel * 20.0)
    x, y = sequence_data()
    distiller = GKD(student, teacher, beta=beta)  # the divergence alone, as TRL's trainer
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"])
    teacher_before, student_before = snapshot(teacher), snapshot(student)
    real = (x > 0).astype("float32")

    def divergence():
        return float(gkd_loss(teacher(x), student(x), beta, sample_weight=real))

    before = divergence()
    history = distiller.fit(x, y, batch_size=8, epochs=3, verbose=0).history
    assert_same(teacher_before, snapshot(teacher))
    assert changed(student_before, snapshot(student))
    assert np.isfinite(history["gkd_loss"]).all() and "task_loss" not in history
    assert divergence() < before, term  # the student moved towards the teacher


def test_gkd_logs_the_divergence_over_the_real_tokens(seq_pair):
    student, teacher = seq_pair
    x, y = sequence_data(8, seed=12)
    distiller = GKD(student, teacher, beta=0.3, temperature=2.0)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = distiller.train_on_batch(x, y, return_dict=True)
    real = (x > 0).astype("float32")
    expected = gkd_loss(teacher(x), student(x), 0.3, 2.0, sample_weight=real)
    assert logs["gkd_loss"] == pytest.approx(float(expected), rel=1e-5)
    unmasked = gkd_loss(np.asarray(teacher(x)), np.asarray(student(x)), 0.3, 2.0)
    assert float(expected) != pytest.approx(float(unmasked), rel=1e-3)


def test_cwd_on_token_logits_leaves_the_padding_out_of_each_softmax(seq_pair):
    student, teacher = seq_pair
    x, y = sequence_data(8, seed=13)
    distiller = CWD(student, teacher, temperature=1.0, feature_weight=1.0)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = distiller.train_on_batch(x, y, return_dict=True)
    expected = cwd_loss(np.asarray(teacher(x)), np.asarray(student(x)), 1.0, mask=x > 0)
    assert logs["cwd_loss"] == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("method", ["cwd", "pkd", "pairwise", "gkd"])
def test_dense_and_sequence_distillers_save_and_load(seg_pair, seq_pair, method, tmp_path):
    if method == "gkd":
        (student, teacher), (x, y) = seq_pair, sequence_data(8)
        distiller = GKD(student, teacher, beta=0.2)
    else:
        (student, teacher), (x, y) = seg_pair, segmentation_data(8)
        distiller = SEG_METHODS[method][0](student, teacher)
    distiller.compile(optimizer=keras.optimizers.SGD(0.01))
    distiller.fit(x, y, epochs=1, verbose=0)
    distiller.save(tmp_path / "d.keras")
    loaded = keras.saving.load_model(tmp_path / "d.keras")
    arguments = {k: v for k, v in distiller.get_config().items() if k not in ("student", "teacher")}
    assert {k: loaded.get_config()[k] for k in arguments} == arguments
    np.testing.assert_allclose(loaded.predict(x, verbose=0), distiller.predict(x, verbose=0))


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda s, t: PKD(s, t, ["mid"], ["mid"]), r"PKD pair \(student 'mid'.*same channels"),
        (
            lambda s, t: PairwiseDistillation(s, t, ["enc"], ["mid"]),
            "same height and width",
        ),
        (lambda s, t: CWD(s, t, ["mid"], ["neck"]), r"layers 'mid' and 'neck'"),
        (lambda s, t: PKD(s, t, ["neck"], ["neck"], resize_student="yes"), "resize_student"),
        (lambda s, t: GKD(s, t, beta=1.5), r"beta=1.5"),
    ],
)
def test_maps_that_cannot_be_compared_are_refused_at_construction(seg_pair, build, match):
    student, teacher = seg_pair
    with pytest.raises(ValueError, match=match):
        build(student, teacher)


def test_cwd_on_a_classifier_says_it_needs_positions():
    from tests.helpers import tiny_pair

    student, teacher = tiny_pair()
    with pytest.raises(ValueError, match=r"the logits are not.*\(None, 3\)"):
        KD(student, teacher, terms=[CWDTerm(1.0)])
