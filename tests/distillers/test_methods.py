"""Every offline distiller on a tiny CNN pair: full recipe through fit, frozen
teacher, changed student, every term logged, save/load, plain student."""

import zipfile

import keras
import numpy as np
import pytest

from keras_kd import distillers
from keras_kd.export import to_tflite
from tests.helpers import assert_same, changed, snapshot, tiny_cnn, tiny_data, tiny_pair

# name -> (class, constructor kwargs, [(stage, expected logged terms)], equal widths)
METHODS = {
    "kd": (distillers.KD, {}, [("train", {"task", "kd"})], False),
    "fitnet": (
        distillers.FitNet,
        {"student_layers": ["block1", "block2"], "teacher_layers": ["block1", "block2"]},
        [("hint", {"hint"}), ("kd", {"task", "kd"}), ("joint", {"task", "hint"})],
        False,
    ),
    "at": (
        distillers.AttentionTransfer,
        {"student_layers": ["block1", "block2"], "teacher_layers": ["block1", "block2"]},
        [("train", {"task", "at"})],
        False,
    ),
    "at_gradient": (
        distillers.AttentionTransfer,
        {"mode": "gradient"},
        [("train", {"task", "at"})],
        False,
    ),
    "nst": (
        distillers.NST,
        {"student_layers": ["block2"], "teacher_layers": ["block2"]},
        [("train", {"task", "nst"})],
        False,
    ),
    "ft": (
        distillers.FactorTransfer,
        {"student_layers": ["block2"], "teacher_layers": ["block2"]},
        [("paraphraser", {"reconstruction"}), ("transfer", {"task", "ft"})],
        False,
    ),
    "ab": (
        distillers.ActivationBoundary,
        {
            "student_layers": ["block1_pre", "block2_pre"],
            "teacher_layers": ["block1_pre", "block2_pre"],
        },
        [("init", {"ab"}), ("train", {"task"})],
        False,
    ),
    "fsp": (
        distillers.FSP,
        {"student_layers": ["block1", "block2"], "teacher_layers": ["block1", "block2"]},
        [("fsp", {"fsp"}), ("train", {"task"})],
        True,
    ),
    "rkd": (
        distillers.RKD,
        {"student_layers": ["pool"], "teacher_layers": ["pool"]},
        [("train", {"task", "rkd"})],
        False,
    ),
}


def make(name, **overrides):
    cls, kwargs, stages, equal_widths = METHODS[name]
    student, teacher = tiny_pair(student_width=8 if equal_widths else 4)
    distiller = cls(student=student, teacher=teacher, **{**kwargs, **overrides})
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"])
    return distiller, stages


@pytest.mark.parametrize("name", sorted(METHODS))
def test_full_recipe_trains_the_student_only(name, tmp_path):
    distiller, stages = make(name)
    student, teacher = distiller.student, distiller.teacher
    params = student.count_params()
    teacher_before, student_before = snapshot(teacher), snapshot(student)
    x, y = tiny_data(32)
    histories = distiller.fit_stages(
        [(stage, 1) for stage, _ in stages], x=x, y=y, batch_size=16, verbose=0
    )
    for stage, terms in stages:
        logged = {k[: -len("_loss")] for k in histories[stage].history if k.endswith("_loss")}
        assert logged == terms, stage
        assert all(np.isfinite(v[-1]) for v in histories[stage].history.values())
    assert_same(teacher_before, snapshot(teacher))
    assert changed(student_before, snapshot(student))
    assert student.count_params() == params
    assert distiller.deployable is student

    path = tmp_path / f"{name}.keras"
    distiller.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(distiller)
    hyperparameters = {
        k: v for k, v in distiller.get_config().items() if k not in ("student", "teacher")
    }
    assert {k: loaded.get_config()[k] for k in hyperparameters} == hyperparameters
    assert (loaded.student.name, loaded.teacher.name) == ("student", "teacher")
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), distiller.predict(x, verbose=0), atol=1e-5
    )
    for adapter, loaded_adapter in zip(distiller.adapters, loaded.adapters, strict=True):
        assert_same(snapshot(adapter), snapshot(loaded_adapter))
    loaded.set_stage(stages[-1][0])
    assert "loss" in loaded.fit(x, y, epochs=1, verbose=0).history

    report = to_tflite(distiller, tmp_path / "student.tflite", check_data=(x, y))
    assert report.max_abs_diff < 1e-4 and report.litert_agreement == 1.0

    student_path = tmp_path / "student.keras"
    distiller.student.save(student_path)
    with zipfile.ZipFile(student_path) as archive:
        assert b"keras_kd" not in archive.read("config.json")


@pytest.mark.parametrize("name", ["at", "fsp", "nst"])
def test_datasets_with_unknown_image_size_train(name):
    import tensorflow as tf

    distiller, stages = make(name)
    x, y = tiny_data(16)

    def reencode(image, label):  # as a pipeline that decodes images: unknown size
        png = tf.io.encode_png(tf.cast(image, tf.uint8))
        return tf.cast(tf.io.decode_png(png, channels=3), tf.float32), label

    dynamic = tf.data.Dataset.from_tensor_slices((x, y)).map(reencode)
    assert dynamic.element_spec[0].shape.as_list() == [None, None, 3]
    distiller.set_stage(stages[0][0])
    history = distiller.fit(dynamic.batch(8), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])


def test_fitnet_hint_stage_leaves_layers_above_the_guided_layer_untouched():
    distiller, _ = make(
        "fitnet", student_layers=["block1"], teacher_layers=["block1"], stage="hint"
    )
    upper = [distiller.student.get_layer(n) for n in ("conv2", "block2_pre", "logits")]
    before = [snapshot(layer) for layer in upper]
    regressor_before = snapshot(distiller.regressors[0])
    x, y = tiny_data(16)
    distiller.fit(x, y, epochs=1, verbose=0)
    for layer, weights in zip(upper, before, strict=True):
        assert_same(weights, snapshot(layer))
    assert changed(regressor_before, snapshot(distiller.regressors[0]))


def test_factor_transfer_stages_train_their_own_parts():
    distiller, _ = make("ft")
    x, y = tiny_data(16)
    student_before, paraphraser_before = (
        snapshot(distiller.student),
        snapshot(distiller.paraphraser),
    )
    distiller.fit(x, y, epochs=1, verbose=0)
    assert_same(student_before, snapshot(distiller.student))
    assert changed(paraphraser_before, snapshot(distiller.paraphraser))
    distiller.set_stage("transfer")
    paraphraser_before, translator_before = (
        snapshot(distiller.paraphraser),
        snapshot(distiller.translator),
    )
    distiller.fit(x, y, epochs=1, verbose=0)
    assert_same(paraphraser_before, snapshot(distiller.paraphraser))
    assert changed(translator_before, snapshot(distiller.translator))


def test_ab_connectors_are_not_trained_in_the_train_stage():
    distiller, _ = make("ab", stage="train")
    before = [snapshot(c) for c in distiller.connectors]
    x, y = tiny_data(16)
    distiller.fit(x, y, epochs=1, verbose=0)
    for connector, weights in zip(distiller.connectors, before, strict=True):
        assert_same(weights, snapshot(connector))


def test_gradient_attention_term_alone_reaches_the_student_weights():
    import tensorflow as tf

    distiller, _ = make("at_gradient", task_weight=0.0)
    x, y = tiny_data(8)
    x, y = tf.constant(x), tf.constant(y)
    teacher_out = distiller.forward_teacher(x, y)
    with tf.GradientTape() as tape:
        student_out = distiller.forward_student(x, y)
        at = distiller.compute_losses(x, y, None, teacher_out, student_out)["at"]
    grads = tape.gradient(at, distiller.student.trainable_variables)
    kernels = [
        g
        for g, v in zip(grads, distiller.student.trainable_variables, strict=True)
        if "kernel" in v.path
    ]
    assert float(at) > 0
    assert all(g is not None for g in kernels)
    assert any(float(tf.reduce_max(tf.abs(g))) > 0 for g in kernels)


@pytest.mark.parametrize(
    "name,kwargs,match",
    [
        (
            "fsp",
            {"student_layers": ["block1", "block2"]},
            r"equal channel counts.*'block1'.*\(None, 16, 16, 8\).*'block1'.*\(None, 16, 16, 4\)",
        ),
        ("fsp", {"student_layers": ["block1"], "teacher_layers": ["block1"]}, "at least 2"),
        ("at", {"student_layers": ["block1"], "teacher_layers": ["pool"]}, "4-D"),
        (
            "fitnet",
            {"student_layers": ["block2"], "teacher_layers": ["block1"]},
            r"integer multiple.*'block2'.*'block1'",
        ),
        ("fitnet", {"student_layers": [], "teacher_layers": []}, "at least one"),
        (
            "ft",
            {"student_layers": ["block1"], "teacher_layers": ["block2"]},
            r"same height and width.*'block1'.*'block2'",
        ),
        (
            "rkd",
            {"student_layers": ["pool", "block2"], "teacher_layers": ["pool", "block2"]},
            "exactly 1",
        ),
        (
            "nst",
            {"student_layers": ["block1"], "teacher_layers": ["block1", "block2"]},
            "same length",
        ),
        (
            "nst",
            {"student_layers": ["nope"], "teacher_layers": ["block1"]},
            "does not have.*'nope'",
        ),
        ("at", {"mode": "both"}, "mode.*Received: mode='both'"),
        ("fitnet", {"stage": "warmup"}, "stage.*'hint', 'kd', 'joint'.*Received: stage='warmup'"),
    ],
)
def test_shapes_a_method_cannot_bridge_fail_at_construction(name, kwargs, match):
    cls, base_kwargs, _, _ = METHODS[name]
    student = tiny_cnn("student", 4)
    teacher = tiny_cnn("teacher", 8 if name != "fsp" or "teacher_layers" in kwargs else 4)
    if name == "fsp" and "teacher_layers" not in kwargs:
        teacher = tiny_cnn("teacher", 8)
    with pytest.raises(ValueError, match=match):
        cls(student=student, teacher=teacher, **{**base_kwargs, **kwargs})


def test_compile_rejects_a_loss_argument():
    distiller, _ = make("kd")
    with pytest.raises(ValueError, match="Received: loss='mse'"):
        distiller.compile(optimizer="sgd", loss="mse")


def test_ab_init_term_weights_layers_by_powers_of_two():
    import tensorflow as tf

    from keras_kd.losses import activation_boundary_loss

    distiller, _ = make("ab")
    assert distiller.layer_weights == [0.5, 1.0]
    x, y = tiny_data(8)
    x = tf.constant(x)
    teacher_out = distiller.forward_teacher(x, y)
    student_out = distiller.forward_student(x, y)
    expected = sum(
        w * activation_boundary_loss(teacher_out[t], c(student_out[s], training=True), 1.0)
        for (s, t), c, w in zip(
            [("block1_pre", "block1_pre"), ("block2_pre", "block2_pre")],
            distiller.connectors,
            [0.5, 1.0],
            strict=True,
        )
    )
    got = distiller.compute_losses(x, tf.constant(y), None, teacher_out, student_out)["ab"]
    assert float(got) == pytest.approx(float(expected), rel=1e-5)
    assert distiller.loss_weights == {"ab": 3e-3}


def test_two_stage_defaults_follow_repdistillers_init_code():
    fsp, _ = make("fsp")
    assert fsp.loss_weights == {"fsp": 1.0}
    ab, _ = make("ab")
    assert ab.loss_weights == {"ab": 3e-3}
