"""Students with several outputs: a detector's class and box heads (issue 28,
point 1: ``compile(loss=..., loss_weights=...)`` per output). The logit terms
read the output named by ``logits_output``; the task term is the user's loss
on every output."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_kd
from keras_kd.distillers import DKD, KD, AttentionTerm, DeepMutualLearning, Distiller
from tests.distillers.test_dense_and_sequence import numpy_ce, numpy_kd
from tests.helpers import (
    ANCHORS,
    CLASSES,
    assert_same,
    changed,
    detection_data,
    detector,
    snapshot,
)

CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
LOSSES = {"classes": CE, "boxes": "huber"}
WEIGHTS = {"classes": 1.0, "boxes": 2.0}


@pytest.fixture(scope="module")
def heads():
    """A student and a teacher with dict outputs ``{"classes", "boxes"}``."""
    keras.utils.set_random_seed(0)
    return detector("det_student", 4), detector("det_teacher", 8)


def numpy_huber(y, pred, delta=1.0):
    error = np.abs(pred - y)
    quadratic = np.minimum(error, delta)
    return (0.5 * quadratic**2 + delta * (error - quadratic)).mean(-1)


def test_kd_trains_both_heads_on_the_users_losses_and_distills_the_class_head(heads):
    student, teacher = heads
    x, classes, boxes = detection_data(32)
    y = {"classes": classes, "boxes": boxes}
    distiller = KD(student, teacher, logits_output="classes")
    distiller.compile(
        "adam",
        loss=LOSSES,
        loss_weights=WEIGHTS,
        metrics={"classes": ["accuracy"], "boxes": ["mae"]},
    )
    teacher_before, student_before = snapshot(teacher), snapshot(student)
    history = distiller.fit(x, y, batch_size=16, epochs=1, verbose=0).history
    assert_same(teacher_before, snapshot(teacher))
    assert changed(student_before, snapshot(student))
    expected = {"loss", "task_loss", "kd_loss", "classes_accuracy", "boxes_mae"}
    assert set(history) == expected
    assert all(np.isfinite(v[-1]) for v in history.values())

    predicted = student.predict(x, verbose=0)
    ce = numpy_ce(classes, predicted["classes"]).mean()
    huber = numpy_huber(boxes, predicted["boxes"]).mean()
    logs = distiller.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["task_loss"], 1.0 * ce + 2.0 * huber, rtol=1e-5)
    assert set(distiller.predict(x[:2], verbose=0)) == {"classes", "boxes"}


def test_the_kd_term_reads_the_named_head(heads):
    student, teacher = heads
    x, classes, boxes = detection_data(16, seed=1)
    distiller = KD(student, teacher, logits_output="classes", temperature=2.0)
    distiller.compile(keras.optimizers.SGD(0.0), loss=LOSSES, loss_weights=WEIGHTS)
    logs = distiller.train_on_batch(x, {"classes": classes, "boxes": boxes}, return_dict=True)
    t, s = teacher.predict(x, verbose=0)["classes"], student.predict(x, verbose=0)["classes"]
    np.testing.assert_allclose(logs["kd_loss"], numpy_kd(t, s, 2.0).mean(), rtol=1e-4)


def test_list_outputs_are_named_by_layer_and_dkd_checks_the_class_heads_labels():
    keras.utils.set_random_seed(1)
    student, teacher = detector("list_student", 4, "list"), detector("list_teacher", 8, "list")
    x, classes, boxes = detection_data(16)
    distiller = DKD(student, teacher, logits_output="cls")
    distiller.compile("adam", loss=[CE, "mse"], metrics={"cls": ["accuracy"]})
    logs = distiller.fit(x, [classes, boxes], batch_size=16, verbose=0).history
    assert {"dkd_loss", "task_loss", "cls_accuracy"} <= set(logs)

    before = snapshot(student)
    with pytest.raises(ValueError, match=r"class index in \[0, 2\] per position.*Received: y"):
        distiller.fit(x, [classes + CLASSES, boxes], batch_size=16, verbose=0)
    assert_same(before, snapshot(student))


def test_a_one_output_teacher_teaches_the_named_head():
    keras.utils.set_random_seed(2)
    student, two_heads = detector("s_one", 4), detector("t_two", 8)
    teacher = keras.Model(two_heads.inputs, two_heads.output["classes"], name="t_classes")
    x, classes, boxes = detection_data(16)
    distiller = KD(student, teacher, logits_output="classes")
    distiller.compile("adam", loss=LOSSES)
    before = snapshot(teacher)
    distiller.fit(x, {"classes": classes, "boxes": boxes}, batch_size=8, verbose=0)
    assert_same(before, snapshot(teacher))


def test_feature_terms_compose_with_the_heads_and_the_teacher_cache(heads, tmp_path):
    student, teacher = heads
    x, classes, boxes = detection_data(16, seed=3)
    y = {"classes": classes, "boxes": boxes}
    distiller = Distiller(
        student,
        teacher,
        kd_weight=0.5,
        terms=[AttentionTerm(100.0, ["neck"], ["neck"])],
        logits_output="classes",
    )
    distiller.compile("adam", loss=LOSSES)
    samples = tf.data.Dataset.from_tensor_slices((x, y))
    cache = keras_kd.cache.cache_teacher_outputs(distiller, samples, verbose=0)
    logs = distiller.fit(cache.dataset.batch(8), epochs=1, verbose=0).history
    assert {"at_loss", "kd_loss", "task_loss"} <= set(logs)

    path = tmp_path / "detector_distiller.keras"
    distiller.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.logits_output == "classes"
    for name, value in distiller.predict(x, verbose=0).items():
        np.testing.assert_allclose(loaded.predict(x, verbose=0)[name], value, atol=1e-6)
    again = loaded.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(
        again["task_loss"], distiller.evaluate(x, y, verbose=0, return_dict=True)["task_loss"]
    )


def _two_heads():
    return detector("a", 4), detector("b", 8)


REFUSED_AT_CONSTRUCTION = {
    "no logits_output": ({}, r"logits_output.*logits_output='classes'.*Received: student="),
    "unknown output": (
        {"logits_output": "scores"},
        r"one of `student`'s outputs.*'classes'.*'boxes'.*Received: logits_output='scores'",
    ),
    "not a string": ({"logits_output": 0}, r"name \(a string\).*Received: logits_output=0"),
}


@pytest.mark.parametrize("case", sorted(REFUSED_AT_CONSTRUCTION))
def test_an_unnamed_or_unknown_logits_output_is_refused(case):
    kwargs, match = REFUSED_AT_CONSTRUCTION[case]
    student, teacher = _two_heads()
    with pytest.raises(ValueError, match=match):
        KD(student, teacher, **kwargs)


REFUSED_AT_COMPILE = {
    "no loss": ({}, r"`loss` is required.*\['classes', 'boxes'\].*Received: loss=None"),
    "unknown key": (
        {"loss": {"classes": CE, "scores": "mse"}},
        r"keyed by the student's output names \['classes', 'boxes'\].*'scores'",
    ),
    "list of the wrong length": ({"loss": [CE]}, r"one entry per output.*Received: loss=\["),
    "misspelled metrics key": (
        {"loss": LOSSES, "metrics": {"class": ["accuracy"]}},
        r"`metrics` must be keyed.*\['classes', 'boxes'\].*Received: metrics with keys \['class'\]",
    ),
    "negative weight": (
        {"loss": LOSSES, "loss_weights": {"classes": 1.0, "boxes": -1.0}},
        r"non-negative numbers.*Received: loss_weights=",
    ),
    "one weight for several outputs": (
        {"loss": LOSSES, "loss_weights": 0.5},
        r"dict keyed by the student's output names.*Received: loss_weights=0.5",
    ),
    "probabilities": (
        {"loss": {"classes": "sparse_categorical_crossentropy", "boxes": "mse"}},
        r"from_logits=True",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED_AT_COMPILE))
def test_per_output_losses_are_checked_at_compile(case):
    kwargs, match = REFUSED_AT_COMPILE[case]
    distiller = KD(*_two_heads(), logits_output="classes")
    with pytest.raises(ValueError, match=match):
        distiller.compile("adam", **kwargs)
    assert distiller.compiled_task_loss is None


def test_schemes_of_one_output_refuse_several_with_the_rewrap():
    peers = [detector("p0", 4), detector("p1", 4)]
    with pytest.raises(ValueError, match=r"keras.Model\(peers\[0\].inputs, peers\[0\].output\["):
        DeepMutualLearning(peers)


def test_the_student_saved_alone_keeps_both_heads(heads, tmp_path):
    student, _ = heads
    path = tmp_path / "student.keras"
    student.save(path)
    loaded = keras.saving.load_model(path)
    x, _, _ = detection_data(4)
    assert loaded.predict(x, verbose=0)["classes"].shape == (4, ANCHORS, CLASSES)


@pytest.mark.parametrize(
    "labels,match",
    [
        (lambda c, b: {"classes": c}, r"\['boxes'\] missing.*Received: y with keys \['classes'\]"),
        (lambda c, b: c, r"\['classes', 'boxes'\] missing.*Received: one array"),
    ],
)
def test_labels_without_an_entry_for_a_head_with_a_loss_are_refused_before_training(
    heads, labels, match
):
    student, teacher = heads
    x, classes, boxes = detection_data(16)
    distiller = KD(student, teacher, logits_output="classes")
    distiller.compile("adam", loss=LOSSES)
    before = snapshot(student)
    with pytest.raises(ValueError, match=match):
        distiller.fit(x, labels(classes, boxes), verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices((x, labels(classes, boxes))).batch(8)
    with pytest.raises(ValueError, match=match):
        distiller.fit(dataset, verbose=0)
    assert_same(before, snapshot(student))


def test_a_head_without_a_loss_is_warned_about_at_compile(heads):
    distiller = KD(*heads, logits_output="classes")
    with pytest.warns(UserWarning, match=r"Outputs \['boxes'\] have no loss"):
        distiller.compile("adam", loss={"classes": CE})


def test_negative_sample_weights_in_a_dataset_are_refused_with_nothing_updated(heads):
    student, teacher = heads
    x, classes, boxes = detection_data(16)
    distiller = KD(student, teacher, logits_output="classes")
    distiller.compile("adam", loss=LOSSES)
    weights = {"classes": np.ones((16, ANCHORS)), "boxes": -np.ones((16, ANCHORS))}
    y = {"classes": classes, "boxes": boxes}
    dataset = tf.data.Dataset.from_tensor_slices((x, y, weights)).batch(8)
    before, iterations = snapshot(student), int(distiller.optimizer.iterations)
    with pytest.raises(ValueError, match=r"non-negative.*128 negative weight\(s\).*smallest -1"):
        distiller.fit(dataset, verbose=0)
    assert_same(before, snapshot(student))
    assert int(distiller.optimizer.iterations) == iterations
