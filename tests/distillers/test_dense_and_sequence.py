"""Distillers on logits with positions: a segmentation pair (one prediction
per pixel) and a masked sequence pair (one per token), with the built-in
task loss or the user's compiled one (issue 28, points 1 and 2)."""

import keras
import numpy as np
import pytest

from keras_kd.distillers import DIST, DKD, KD, MLKD, WTTM
from tests.helpers import (
    CLASSES,
    LENGTH,
    assert_same,
    changed,
    segmentation_data,
    sequence_data,
    snapshot,
)
from tests.losses.test_dkd import numpy_dkd_per_sample


def softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def numpy_kd(t, s, temperature):
    p_t, p_s = softmax(t / temperature), softmax(s / temperature)
    return temperature**2 * (p_t * (np.log(p_t) - np.log(p_s))).sum(-1)


def numpy_ce(y, logits):
    log_p = np.log(softmax(logits))
    return -np.take_along_axis(log_p, y[..., None], axis=-1)[..., 0]


def logged_terms(distiller, x, y):
    """The terms one step logs, with SGD(0) so that nothing moves."""
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    return distiller.train_on_batch(x, y, return_dict=True)


def test_segmentation_pair_trains_with_kd_teacher_unchanged(seg_pair):
    student, teacher = seg_pair
    x, y = segmentation_data()
    distiller = KD(student, teacher, task_weight=0.5, kd_weight=0.5)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1), metrics=["accuracy"])
    teacher_before, student_before = snapshot(teacher), snapshot(student)
    history = distiller.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    assert_same(teacher_before, snapshot(teacher))
    assert changed(student_before, snapshot(student))
    for key in ("loss", "task_loss", "kd_loss", "accuracy"):
        assert np.all(np.isfinite(history[key])), key


def test_per_pixel_terms_are_the_mean_over_every_pixel(seg_pair):
    student, teacher = seg_pair
    x, y = segmentation_data(8, seed=3)
    logs = logged_terms(KD(student, teacher, kd_weight=1.0, temperature=2.0), x, y)
    t, s = (np.asarray(m(x), "float64") for m in (teacher, student))
    assert logs["kd_loss"] == pytest.approx(numpy_kd(t, s, 2.0).mean(), rel=1e-4)
    assert logs["task_loss"] == pytest.approx(numpy_ce(y, s).mean(), rel=1e-4)


def test_per_token_terms_count_only_the_real_tokens(seq_pair):
    student, teacher = seq_pair
    x, y = sequence_data(8, seed=4)
    real = x > 0
    logs = logged_terms(KD(student, teacher, kd_weight=1.0, temperature=3.0), x, y)
    t, s = (np.asarray(m(x), "float64") for m in (teacher, student))
    kd = numpy_kd(t, s, 3.0)
    assert logs["kd_loss"] == pytest.approx(kd[real].mean(), rel=1e-4)
    # Dividing by every position (padding included) would give another value.
    assert (kd * real).sum() / kd.size < 0.9 * kd[real].mean()
    assert logs["task_loss"] == pytest.approx(numpy_ce(y, s)[real].mean(), rel=1e-4)
    # A per-token sample weight is a padding mask of its own: real tokens weighted.
    weight = real * np.linspace(0.5, 2.0, LENGTH)[None]
    distiller = KD(student, teacher, kd_weight=1.0, temperature=3.0)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = distiller.train_on_batch(x, y, sample_weight=weight, return_dict=True)
    expected = (numpy_kd(t, s, 3.0) * weight).sum() / real.sum()
    assert logs["kd_loss"] == pytest.approx(expected, rel=1e-4)


def test_dkd_dist_and_wttm_take_per_pixel_logits(seg_pair):
    student, teacher = seg_pair
    x, y = segmentation_data(8, seed=5)
    t, s = (np.asarray(m(x), "float64") for m in (teacher, student))
    dkd = DKD(student, teacher, temperature=4.0, alpha=1.0, beta=8.0, warmup_epochs=0)
    logs = logged_terms(dkd, x, y)
    rows = lambda a: a.reshape(-1, CLASSES)  # noqa: E731
    expected = numpy_dkd_per_sample(rows(t), rows(s), y.reshape(-1), 4.0, 1.0, 8.0).mean()
    assert logs["dkd_loss"] == pytest.approx(expected, rel=1e-4)
    for distiller, term in (
        (DIST(student, teacher), "dist_loss"),
        (WTTM(student, teacher), "wttm_loss"),
    ):
        logs = logged_terms(distiller, x, y)
        assert np.isfinite(logs[term]) and logs[term] > 0


def test_dist_leaves_padding_tokens_out(seq_pair):
    from keras_kd.losses.dist import dist_loss

    student, teacher = seq_pair
    x, y = sequence_data(8, seed=6)
    logs = logged_terms(DIST(student, teacher, temperature=2.0), x, y)
    t, s = np.asarray(teacher(x)), np.asarray(student(x))
    real = x > 0
    expected = float(dist_loss(t[real], s[real], temperature=2.0))
    assert expected != pytest.approx(float(dist_loss(t, s, temperature=2.0)), rel=1e-3)
    assert logs["dist_loss"] == pytest.approx(expected, rel=1e-4)


def test_the_compiled_loss_is_the_task_term(seq_pair):
    student, teacher = seq_pair
    x, y = sequence_data(8, seed=7)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    distiller = KD(student, teacher, kd_weight=0.0)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0), loss=loss, loss_weights=0.5)
    logs = distiller.train_on_batch(x, y, return_dict=True)
    assert logs["task_loss"] == pytest.approx(0.5 * float(loss(y, student(x))), rel=1e-5)
    # Keras's loss applies the mask: the same value as the cross-entropy of the real tokens.
    s = np.asarray(student(x), "float64")
    assert logs["task_loss"] == pytest.approx(0.5 * numpy_ce(y, s)[x > 0].mean(), rel=1e-4)
    val = distiller.evaluate(x, y, verbose=0, return_dict=True)
    assert val["task_loss"] == pytest.approx(logs["task_loss"], rel=1e-5)


def test_a_compiled_loss_judges_its_own_labels(seg_pair):
    student, teacher = seg_pair
    x, y = segmentation_data(8, seed=8)
    y = y.copy()
    y[:, :2] = -1  # positions the user's loss ignores
    distiller = KD(student, teacher)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    with pytest.raises(ValueError, match="class index in \\[0, 2\\] per position"):
        distiller.fit(x, y, epochs=1, verbose=0)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    before = snapshot(student)
    history = distiller.fit(x, y, epochs=1, verbose=0).history
    assert np.isfinite(history["task_loss"][0]) and changed(before, snapshot(student))


def test_a_term_reading_classes_keeps_the_label_check_under_a_compiled_loss(seg_pair):
    student, teacher = seg_pair
    x, y = segmentation_data(8, seed=9)
    y = y.copy()
    y[0, 0, 0] = 7
    distiller = DKD(student, teacher)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    before = snapshot(student)
    with pytest.raises(ValueError, match="Received: y from 0 to 7"):
        distiller.fit(x, y, epochs=1, verbose=0)
    assert_same(before, snapshot(student))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"loss": "sparse_categorical_crossentropy"}, "from_logits=True"),
        ({"loss": keras.losses.CategoricalCrossentropy()}, "from_logits=True"),
        ({"loss_weights": 0.5}, "loss_weights=0.5"),
        ({"loss": ["mse", "mse"]}, "one loss for the student's one output"),
        ({"loss": "mse", "loss_weights": -1.0}, "loss_weights=-1.0"),
    ],
)
def test_compile_refuses_what_it_cannot_honour(seg_pair, kwargs, match):
    student, teacher = seg_pair
    distiller = KD(student, teacher)
    with pytest.raises(ValueError, match=match):
        distiller.compile(optimizer="sgd", **kwargs)


def test_labels_of_another_shape_are_refused_before_training(seg_pair):
    student, teacher = seg_pair
    x, y = segmentation_data(8)
    distiller = KD(student, teacher)
    distiller.compile(optimizer="sgd")
    before = snapshot(student)
    with pytest.raises(ValueError, match=r"shape \(n, 8, 8\) or \(n, 8, 8, 1\).*\(8, 8\)"):
        distiller.fit(x, y[:, :, 0], epochs=1, verbose=0)
    assert_same(before, snapshot(student))


def test_a_method_relating_samples_refuses_logits_with_positions(seg_pair):
    student, teacher = seg_pair
    with pytest.raises(ValueError, match=r"MLKD \(MLKDTerm\).*\(None, 8, 8, 3\)"):
        MLKD(student, teacher, strong_augment=keras.layers.Identity())


def test_a_distiller_with_a_compiled_loss_saves_and_loads(seq_pair, tmp_path):
    student, teacher = seq_pair
    x, y = sequence_data(8, seed=10)
    distiller = KD(student, teacher, kd_weight=0.5)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    distiller.compile(optimizer=keras.optimizers.SGD(0.05), loss=loss, loss_weights=2.0)
    distiller.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "kd.keras"
    distiller.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.compiled_task_loss is not None
    expected = distiller.evaluate(x, y, verbose=0, return_dict=True)["task_loss"]
    got = loaded.evaluate(x, y, verbose=0, return_dict=True)["task_loss"]
    assert got == pytest.approx(expected, rel=1e-5)


def test_mutual_learning_on_tokens_counts_only_the_real_tokens(seq_pair):
    from keras_kd.distillers import DeepMutualLearning

    student, teacher = seq_pair
    x, y = sequence_data(8, seed=11)
    dml = DeepMutualLearning(peers=[student, teacher], temperature=1.0)
    dml.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = dml.train_on_batch(x, y, return_dict=True)
    z0, z1 = (np.asarray(m(x), "float64") for m in (student, teacher))
    real = x > 0
    assert logs["peer0_kd_loss"] == pytest.approx(numpy_kd(z1, z0, 1.0)[real].mean(), rel=1e-4)
    assert logs["peer1_task_loss"] == pytest.approx(numpy_ce(y, z1)[real].mean(), rel=1e-4)


@pytest.mark.parametrize("scheme", ["one", "byot"])
def test_schemes_built_on_per_sample_heads_refuse_logits_with_positions(seg_pair, scheme):
    from keras_kd.distillers import BYOT, ONE

    student, _ = seg_pair
    with pytest.raises(ValueError, match=r"one logit vector per sample.*\(None, 8, 8, 3\)"):
        if scheme == "one":
            ONE(student, cut_layer="mid", branches=2)
        else:
            BYOT(student, exit_layers=["enc"], deep_layer="mid")


def test_a_refused_compile_leaves_the_trained_distiller_as_it_was(seq_pair):
    student, teacher = seq_pair
    x, y = sequence_data(8, seed=14)
    distiller = KD(student, teacher, kd_weight=0.5)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    distiller.compile(optimizer=keras.optimizers.SGD(0.05), loss=loss)
    distiller.fit(x, y, epochs=1, verbose=0)
    before = snapshot(distiller)
    task_loss, optimizer = distiller.compiled_task_loss, distiller.optimizer
    with pytest.raises(ValueError, match="from_logits=True"):
        distiller.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert_same(before, snapshot(distiller))
    assert distiller.compiled_task_loss is task_loss and distiller.optimizer is optimizer
    assert int(optimizer.iterations) == 1
