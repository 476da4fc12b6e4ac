"""The Distiller template's guarantees, one test per keras.distillation defect
listed in REFERENCES.md, and the shared checks of every distiller."""

import json
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_kd
from keras_kd.losses import kd_loss
from tests.helpers import (
    IMAGE_SHAPE,
    assert_same,
    changed,
    snapshot,
    tiny_cnn,
    tiny_data,
    tiny_pair,
)


class TrainingCallCounter(keras.layers.Layer):
    """Counts how often it runs in training mode (identity otherwise)."""

    def build(self, input_shape):
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False)

    def call(self, x, training=False):
        if training:
            self.count.assign_add(1.0)
        return x


def counted_student():
    inputs = keras.Input(IMAGE_SHAPE)
    counter = TrainingCallCounter(name="counter")
    x = counter(inputs)
    x = keras.layers.Conv2D(4, 3, name="conv")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="logits")(x)), counter


def test_kd_term_is_hinton_loss_with_softmax_and_t_squared():
    """Defect 1: keras.distillation's default KD string loss has no softmax/T^2."""
    student, teacher = tiny_pair()
    x, y = tiny_data(8)
    d = keras_kd.KD(student=student, teacher=teacher, temperature=4.0)
    d.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = d.train_on_batch(x, y, return_dict=True)
    expected = kd_loss(teacher(x, training=False), student(x, training=True), 4.0)
    assert logs["kd_loss"] == pytest.approx(float(expected), rel=1e-4)


def test_kd_term_is_invariant_to_a_shift_of_teacher_logits():
    student, teacher = tiny_pair()
    x, y = tiny_data(8)
    shifted = keras.Model(teacher.inputs, keras.layers.Lambda(lambda z: z + 5.0)(teacher.output))
    logs = []
    for t in (teacher, shifted):
        d = keras_kd.KD(student=student, teacher=t)
        d.compile(optimizer=keras.optimizers.SGD(0.0))
        logs.append(d.train_on_batch(x, y, return_dict=True)["kd_loss"])
    assert logs[0] == pytest.approx(logs[1], rel=1e-5)


def test_student_runs_once_per_training_step():
    """Defect 2: one forward pass of the student per step (one dropout mask,
    one BatchNorm update)."""
    student, counter = counted_student()
    d = keras_kd.KD(student=student, teacher=tiny_cnn("teacher"))
    d.compile(optimizer="sgd")
    x, y = tiny_data(24)
    d.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert float(counter.count.numpy()) == 3.0


def test_evaluate_runs_the_student_in_inference_mode():
    """Defect 3: no training-mode pass (or BatchNorm update) inside evaluate()."""
    student, counter = counted_student()
    d = keras_kd.KD(student=student, teacher=tiny_cnn("teacher"))
    d.compile(optimizer="sgd", metrics=["accuracy"])
    before = snapshot(student)
    x, y = tiny_data(16)
    logs = d.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert float(counter.count.numpy()) == 0.0
    assert_same(before, snapshot(student))
    assert set(logs) == {"loss", "task_loss", "accuracy"}


def test_student_regularization_losses_are_in_the_total():
    """Defect 4: the student's regularization losses count."""
    student, teacher = tiny_pair(weight_decay=0.5)
    x, y = tiny_data(8)
    d = keras_kd.KD(student=student, teacher=teacher, task_weight=0.1, kd_weight=0.9)
    d.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = d.train_on_batch(x, y, return_dict=True)
    regularization = float(tf.add_n(student.losses))
    assert regularization > 0.01
    weighted = 0.1 * logs["task_loss"] + 0.9 * logs["kd_loss"]
    assert logs["loss"] == pytest.approx(weighted + regularization, rel=1e-4)


def test_sample_weight_is_honoured():
    """Defect 5: sample weights reach every term."""
    student, teacher = tiny_pair()
    x, y = tiny_data(8)
    w = np.array([1, 0, 2, 0, 1, 1, 0, 3], "float32")
    d = keras_kd.KD(student=student, teacher=teacher)
    d.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = d.train_on_batch(x, y, sample_weight=w, return_dict=True)
    expected = kd_loss(teacher(x), student(x, training=True), 4.0, sample_weight=w)
    assert logs["kd_loss"] == pytest.approx(float(expected), rel=1e-4)
    unweighted = d.train_on_batch(x, y, return_dict=True)["kd_loss"]
    assert logs["kd_loss"] != pytest.approx(unweighted, rel=1e-3)


def test_zero_sample_weights_leave_trainable_weights_unchanged():
    student, teacher = tiny_pair()
    x, y = tiny_data(8)
    d = keras_kd.KD(student=student, teacher=teacher)
    d.compile(optimizer=keras.optimizers.SGD(0.5))
    before = [v.numpy() for v in student.trainable_variables]
    d.train_on_batch(x, y, sample_weight=np.zeros(8, "float32"))
    assert_same(before, [v.numpy() for v in student.trainable_variables])


def test_loss_weights_are_free_non_negative_floats():
    """Defect 6: weights are not forced into [0, 1]."""
    student, teacher = tiny_pair()
    x, y = tiny_data(8)
    d = keras_kd.KD(student=student, teacher=teacher, task_weight=2.0, kd_weight=1000.0)
    d.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = d.train_on_batch(x, y, return_dict=True)
    assert logs["loss"] == pytest.approx(2 * logs["task_loss"] + 1000 * logs["kd_loss"], rel=1e-4)


@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf"), 1e40, True, "1"])
def test_a_weight_no_float32_loss_can_carry_is_refused(weight):
    with pytest.raises(ValueError, match=r"`kd_weight` must be a finite float >= 0.*Received"):
        keras_kd.KD(*tiny_pair(), kd_weight=weight)
    assert keras_kd.KD(*tiny_pair(), kd_weight=3e38).all_terms[1].weight == 3e38


def test_teacher_is_bit_identical_and_student_changes_after_fit():
    student, teacher = tiny_pair()
    teacher_before, student_before = snapshot(teacher), snapshot(student)
    d = keras_kd.KD(student=student, teacher=teacher)
    d.compile(optimizer="adam", metrics=["accuracy"])
    x, y = tiny_data(32)
    history = d.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert_same(teacher_before, snapshot(teacher))
    assert changed(student_before, snapshot(student))
    assert {"loss", "task_loss", "kd_loss", "accuracy"} <= set(history.history)
    assert d.teacher.trainable, "the user's flag is theirs: the distiller freezes internally"
    assert {id(v) for v in d.trained_variables()} == {id(v) for v in student.trainable_variables}


def test_one_hot_labels_give_the_same_task_loss_as_integer_labels():
    student, teacher = tiny_pair()
    x, y = tiny_data(8)
    _, y_hot = tiny_data(8, one_hot=True)
    d = keras_kd.KD(student=student, teacher=teacher)
    d.compile(optimizer=keras.optimizers.SGD(0.0))
    sparse = d.train_on_batch(x, y, return_dict=True)["task_loss"]
    dense = d.train_on_batch(x, y_hot, return_dict=True)["task_loss"]
    assert sparse == pytest.approx(dense, rel=1e-5)


def test_save_load_round_trip_and_fit_continues(tmp_path):
    student, teacher = tiny_pair()
    x, y = tiny_data(16)
    d = keras_kd.KD(student=student, teacher=teacher, temperature=3.0, kd_weight=2.0)
    d.compile(optimizer="adam", metrics=["accuracy"])
    d.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "kd.keras"
    d.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is keras_kd.KD
    assert loaded.temperature == 3.0 and loaded.kd_weight == 2.0
    np.testing.assert_allclose(loaded.predict(x, verbose=0), d.predict(x, verbose=0), atol=1e-6)
    history = loaded.fit(x, y, epochs=1, verbose=0)
    assert "kd_loss" in history.history


def test_student_saves_alone_without_keras_kd_objects(tmp_path):
    student, teacher = tiny_pair()
    d = keras_kd.KD(student=student, teacher=teacher)
    path = tmp_path / "student.keras"
    d.student.save(path)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    assert "keras_kd" not in json.dumps(config)
    assert config["config"]["name"] == "student"
    x, _ = tiny_data(4)
    np.testing.assert_allclose(keras.saving.load_model(path).predict(x, verbose=0), student(x))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_non_finite_term_stops_training_naming_the_term_and_changes_nothing(jit_compile):
    student, teacher = tiny_pair()
    kernel, bias = teacher.get_layer("logits").get_weights()
    teacher.get_layer("logits").set_weights([kernel * 1e38, bias])  # logits overflow to inf
    x, y = tiny_data(8)
    d = keras_kd.KD(student=student, teacher=teacher)
    d.compile(optimizer="adam", jit_compile=jit_compile)
    before, slots = snapshot(student), [v.numpy() for v in d.optimizer.variables]
    with pytest.raises(
        keras_kd.errors.NonFiniteLossError,
        match="loss term 'kd'.*training batch 0 \\(optimizer step 0\\).*Nothing was updated",
    ):
        d.fit(x, y, epochs=1, verbose=0)
    assert_same(before, snapshot(student))
    assert_same(slots, [v.numpy() for v in d.optimizer.variables])


def test_a_nan_pixel_is_named_as_bad_input_and_changes_nothing():
    student, teacher = tiny_pair()
    x, y = tiny_data(8)
    x[0, 0, 0, 0] = np.nan
    d = keras_kd.KD(student=student, teacher=teacher)
    d.compile(optimizer="adam")
    before = snapshot(student)
    with pytest.raises(
        keras_kd.errors.NonFiniteLossError,
        match="`x` must hold finite.*training batch 0 \\(optimizer step 0\\).*Nothing was updated",
    ):
        d.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1, verbose=0)
    assert_same(before, snapshot(student))


def test_softmax_outputs_are_rejected_with_a_clear_message():
    student, teacher = tiny_pair()
    probs = keras.Model(teacher.inputs, keras.layers.Softmax(name="probs")(teacher.output))
    with pytest.raises(ValueError, match="`teacher` must output logits.*'probs'"):
        keras_kd.KD(student=student, teacher=probs)
    inputs = keras.Input(IMAGE_SHAPE)
    flat = keras.layers.Flatten()(inputs)
    dense_softmax = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(flat))
    with pytest.raises(ValueError, match="`student` must output logits"):
        keras_kd.KD(student=dense_softmax, teacher=teacher)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"temperature": 0.0}, "temperature.*Received: temperature=0.0"),
        ({"temperature": -2}, "temperature.*Received: temperature=-2"),
        ({"task_weight": -0.1}, "task_weight.*Received: task_weight=-0.1"),
        ({"kd_weight": float("nan")}, "kd_weight.*Received: kd_weight=nan"),
        ({"kd_weight": "0.9"}, "kd_weight.*Received: kd_weight='0.9'"),
        ({"temperature": 1e20}, "temperature.*Received: temperature=1e\\+20"),
    ],
)
def test_bad_hyperparameters_are_rejected(kwargs, match):
    student, teacher = tiny_pair()
    with pytest.raises(ValueError, match=match):
        keras_kd.KD(student=student, teacher=teacher, **kwargs)


def test_mismatched_input_and_class_counts_are_rejected():
    student, teacher = tiny_pair()
    inputs = keras.Input((8, 8, 3))
    small = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match=r"same shape.*\(16, 16, 3\).*\(8, 8, 3\)"):
        keras_kd.KD(student=student, teacher=small)
    with pytest.raises(ValueError, match=r"same number of classes.*\(3,\).*\(5,\)"):
        keras_kd.KD(student=student, teacher=tiny_cnn("t5", num_classes=5))


def test_the_base_class_alone_trains_on_the_task_and_any_given_terms():
    student, teacher = tiny_pair()
    base = keras_kd.Distiller(student=student, teacher=teacher)
    base.compile(optimizer="sgd")
    x, y = tiny_data(8)
    assert set(base.fit(x, y, epochs=1, verbose=0).history) == {"loss", "task_loss"}


def test_a_distiller_saved_by_keras_kd_0_1_fails_to_load_saying_what_changed(tmp_path):
    student, teacher = tiny_pair()
    path = tmp_path / "kd.keras"
    keras_kd.KD(student=student, teacher=teacher).save(path)
    old = tmp_path / "kd-0.1.keras"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["distill_weight"] = config["config"].pop("kd_weight")
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    with pytest.raises(ValueError, match="saved by keras_kd 0.1.*distill_weight -> feature_weight"):
        keras.saving.load_model(old)
    keras.saving.load_model(path)  # the unedited file loads


@pytest.mark.parametrize(
    "cls,kwargs,new",
    [
        ("KD", {"distill_weight": 0.9}, "kd_weight"),
        ("ONE", {"deploy_branch": 1}, "deploy_index"),
        ("BYOT", {"alpha": 0.3}, "task_weight"),
        ("AttentionTransfer", {"mode": "gradient"}, "GradientAttentionTransfer"),
    ],
)
def test_old_argument_names_are_refused_with_the_new_name(cls, kwargs, new):
    student, teacher = tiny_pair()
    args = {
        "KD": (student, teacher),
        "ONE": (student, "block1"),
        "BYOT": (student, ["block1"], "block2"),
        "AttentionTransfer": (student, teacher, ["block1"], ["block1"]),
    }[cls]
    with pytest.raises(TypeError, match=f"renamed in keras_kd 0.2.*{new}"):
        getattr(keras_kd.distillers, cls)(*args, **kwargs)
