"""Every offline distiller on a tiny CNN pair: full recipe through fit, frozen
teacher, changed student, every term logged, save/load, plain student."""

import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_kd import distillers
from keras_kd.export import to_tflite
from tests.helpers import assert_same, changed, snapshot, tiny_cnn, tiny_data, tiny_pair


def taps(*names):
    return {"student_layers": list(names), "teacher_layers": list(names)}


def composed_terms():
    """Terms of two methods in one distiller (fresh objects for every distiller)."""
    return [
        distillers.AttentionTerm(1000.0, ["block1"], ["block1"]),
        distillers.NSTTerm(50.0, ["block2"], ["block2"]),
    ]


# name -> (class, constructor kwargs, [(stage, expected logged terms)], equal widths)
# Methods with an init stage get init_epochs=1 (their default, 30, is a real run's).
METHODS = {
    "kd": (distillers.KD, {}, [("main", {"task", "kd"})], False),
    "fitnet": (
        distillers.FitNet,
        taps("block1", "block2"),
        [("init", {"hint"}), ("main", {"task", "hint"})],
        False,
    ),
    "at": (
        distillers.AttentionTransfer,
        taps("block1", "block2"),
        [("main", {"task", "at"})],
        False,
    ),
    "gradient_at": (
        distillers.GradientAttentionTransfer,
        {},
        [("main", {"task", "gradient_at"})],
        False,
    ),
    "nst": (distillers.NST, taps("block2"), [("main", {"task", "nst"})], False),
    "ft": (
        distillers.FactorTransfer,
        {**taps("block2"), "init_epochs": 1},
        [("init", {"reconstruction"}), ("main", {"task", "ft"})],
        False,
    ),
    "ab": (
        distillers.ActivationBoundary,
        {**taps("block1_pre", "block2_pre"), "init_epochs": 1},
        [("init", {"ab"}), ("main", {"task"})],
        False,
    ),
    "fsp": (
        distillers.FSP,
        {**taps("block1", "block2"), "init_epochs": 1},
        [("init", {"fsp"}), ("main", {"task"})],
        True,
    ),
    "rkd": (distillers.RKD, taps("pool"), [("main", {"task", "rkd"})], False),
    "function_matching": (distillers.FunctionMatching, {}, [("main", {"kd"})], False),
    "wttm": (distillers.WTTM, {}, [("main", {"task", "wttm"})], False),
    "mlkd": (
        distillers.MLKD,
        {},
        [("main", {"task", "task_strong", "mlkd_instance", "mlkd_class", "mlkd_batch"})],
        False,
    ),
    "composed": (
        distillers.Distiller,
        {"terms": composed_terms, "kd_weight": 0.9},
        [("main", {"task", "kd", "at", "nst"})],
        False,
    ),
}
FEATURE_METHODS = ["ab", "at", "fitnet", "fsp", "ft", "gradient_at", "nst", "rkd"]
INIT_METHODS = ["ab", "fsp", "ft"]


def make(name, **overrides):
    cls, kwargs, stages, equal_widths = METHODS[name]
    kwargs = {**kwargs, **overrides}
    if callable(kwargs.get("terms")):
        kwargs["terms"] = kwargs["terms"]()
    student, teacher = tiny_pair(student_width=8 if equal_widths else 4)
    distiller = cls(student=student, teacher=teacher, **kwargs)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"])
    return distiller, stages


def term(distiller, name):
    (found,) = [t for t in distiller.all_terms if t.name == name]
    return found


def logged_terms(history):
    return {k[: -len("_loss")] for k in history.history if k.endswith("_loss")}


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
        assert logged_terms(histories[stage]) == terms, stage
        assert all(np.isfinite(v[-1]) for v in histories[stage].history.values())
    assert_same(teacher_before, snapshot(teacher))  # BatchNorm statistics included
    assert teacher.trainable  # frozen inside the distiller, the user's flag untouched
    assert changed(student_before, snapshot(student))
    assert student.count_params() == params
    assert distiller.deployable is student
    init_done = 1 if stages[0][0] == "init" else 0
    assert int(distiller.init_epochs_done.numpy()) == init_done

    path = tmp_path / f"{name}.keras"
    distiller.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(distiller)
    hyperparameters = {
        k: v for k, v in distiller.get_config().items() if k not in ("student", "teacher")
    }
    assert {k: loaded.get_config()[k] for k in hyperparameters} == hyperparameters
    assert (loaded.student.name, loaded.teacher.name) == ("student", "teacher")
    assert int(loaded.init_epochs_done.numpy()) == init_done
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), distiller.predict(x, verbose=0), atol=1e-5
    )
    assert len(loaded.adapters) == len(distiller.adapters)
    for adapter, loaded_adapter in zip(distiller.adapters, loaded.adapters, strict=True):
        assert_same(snapshot(adapter), snapshot(loaded_adapter))
    # The loaded distiller remembers its init epochs: fit goes straight to the main stage.
    history = loaded.fit(x, y, epochs=1, verbose=0)
    assert logged_terms(history) == stages[-1][1]
    assert int(loaded.init_epochs_done.numpy()) == init_done

    report = to_tflite(distiller, tmp_path / "student.tflite", check_data=(x, y))
    assert report.max_abs_diff < 1e-4 and report.litert_agreement == 1.0

    student_path = tmp_path / "student.keras"
    distiller.student.save(student_path)
    with zipfile.ZipFile(student_path) as archive:
        assert b"keras_kd" not in archive.read("config.json")


@pytest.mark.parametrize("name", FEATURE_METHODS)
def test_every_feature_method_takes_a_kd_term(name, tmp_path):
    distiller, stages = make(name, kd_weight=0.5)
    teacher_before, student_before = snapshot(distiller.teacher), snapshot(distiller.student)
    x, y = tiny_data(32)
    histories = distiller.fit_stages(
        [(stage, 1) for stage, _ in stages], x=x, y=y, batch_size=16, verbose=0
    )
    # The KD term is a main-stage term (init stages have no logits).
    for stage, terms in stages:
        expected = terms | {"kd"} if stage == "main" else terms
        assert logged_terms(histories[stage]) == expected, stage
        assert all(np.isfinite(v[-1]) for v in histories[stage].history.values())
    assert distiller.loss_weights["kd"] == 0.5
    assert_same(teacher_before, snapshot(distiller.teacher))
    assert changed(student_before, snapshot(distiller.student))
    path = tmp_path / f"{name}_kd.keras"
    distiller.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_config()["kd_weight"] == 0.5
    assert "kd_loss" in loaded.fit(x, y, epochs=1, verbose=0).history


class StageLog(keras.callbacks.Callback):
    """Records each `fit` run's stage and whether the logits layer changed in it."""

    def __init__(self):
        super().__init__()
        self.runs = []

    def _kernel(self):
        return self.model.student.get_layer("logits").kernel.numpy()

    def on_train_begin(self, logs=None):
        self.before = self._kernel()

    def on_train_end(self, logs=None):
        self.runs.append((self.model.stage, changed([self.before], [self._kernel()])))


@pytest.mark.parametrize("name", INIT_METHODS)
def test_plain_fit_runs_the_init_stage_once_then_trains_the_whole_student(name):
    distiller, stages = make(name)
    assert distiller.init_epochs == 1 and int(distiller.init_epochs_done.numpy()) == 0
    x, y = tiny_data(32)
    logits_before = snapshot(distiller.student.get_layer("logits"))
    first = StageLog()
    history = distiller.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[first])
    # The init stage ran (and did not reach the logits), then the main stage did.
    assert first.runs == [("init", False), ("main", True)]
    assert logged_terms(history) == stages[-1][1]  # the returned history is the main stage's
    assert int(distiller.init_epochs_done.numpy()) == 1
    assert distiller.stage == "main"
    assert changed(logits_before, snapshot(distiller.student.get_layer("logits")))

    second = StageLog()
    distiller.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[second])
    assert second.runs == [("main", True)]
    assert int(distiller.init_epochs_done.numpy()) == 1


def test_fitnet_runs_its_hint_stage_only_when_asked():
    x, y = tiny_data(16)
    one_stage, _ = make("fitnet")
    log = StageLog()
    one_stage.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[log])
    assert log.runs == [("main", True)]
    two_stage, _ = make("fitnet", init_epochs=1)
    log = StageLog()
    two_stage.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[log])
    assert log.runs == [("init", False), ("main", True)]
    assert int(two_stage.init_epochs_done.numpy()) == 1


@pytest.mark.parametrize("name", ["at", "fsp", "nst"])
def test_datasets_with_unknown_image_size_train(name):
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
    distiller, _ = make("fitnet", **taps("block1"))
    distiller.set_stage("init")
    upper = [distiller.student.get_layer(n) for n in ("conv2", "block2_pre", "logits")]
    before = [snapshot(layer) for layer in upper]
    (regressor,) = term(distiller, "hint").adapters
    regressor_before = snapshot(regressor)
    x, y = tiny_data(16)
    distiller.fit(x, y, epochs=1, verbose=0)
    for layer, weights in zip(upper, before, strict=True):
        assert_same(weights, snapshot(layer))
    assert changed(regressor_before, snapshot(regressor))


def test_factor_transfer_stages_train_their_own_parts():
    distiller, _ = make("ft")
    ft = term(distiller, "ft")
    x, y = tiny_data(16)
    student_before, paraphraser_before = snapshot(distiller.student), snapshot(ft.paraphraser)
    distiller.fit_stages([("init", 1)], x=x, y=y, verbose=0)
    assert_same(student_before, snapshot(distiller.student))
    assert changed(paraphraser_before, snapshot(ft.paraphraser))
    paraphraser_before, translator_before = snapshot(ft.paraphraser), snapshot(ft.translator)
    distiller.fit_stages([("main", 1)], x=x, y=y, verbose=0)
    assert_same(paraphraser_before, snapshot(ft.paraphraser))
    assert changed(translator_before, snapshot(ft.translator))


def test_factor_transfer_defaults_to_the_repdistiller_form():
    distiller, _ = make("ft")
    assert distiller.form == "repdistiller" and term(distiller, "ft").form == "repdistiller"
    paper, _ = make("ft", form="paper")
    assert term(paper, "ft").form == "paper"


def test_ab_connectors_are_not_trained_in_the_main_stage():
    distiller, _ = make("ab")
    connectors = term(distiller, "ab").adapters
    before = [snapshot(c) for c in connectors]
    x, y = tiny_data(16)
    distiller.fit_stages([("main", 1)], x=x, y=y, verbose=0)
    for connector, weights in zip(connectors, before, strict=True):
        assert_same(weights, snapshot(connector))


def test_gradient_attention_term_alone_reaches_the_student_weights():
    distiller, _ = make("gradient_at", task_weight=0.0)
    gradient_at = term(distiller, "gradient_at")
    x, y = tiny_data(8)
    x, y = tf.constant(x), tf.constant(y)
    teacher_out = distiller._run("teacher", x, y, False)
    with tf.GradientTape() as tape:
        student_out = distiller._run("student", x, y, True)
        at = gradient_at(teacher_out, student_out, y, None)
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
        ("fsp", taps("block1"), "at least 2"),
        ("at", {"student_layers": ["block1"], "teacher_layers": ["pool"]}, "4-D"),
        (
            "fitnet",
            {"student_layers": ["block2"], "teacher_layers": ["block1"]},
            r"integer multiple.*'block2'.*'block1'",
        ),
        ("fitnet", taps(), "at least 1 "),
        (
            "ft",
            {"student_layers": ["block1"], "teacher_layers": ["block2"]},
            r"same height and width.*'block1'.*'block2'",
        ),
        ("ft", {"form": "both"}, r"form.*Received: form='both'"),
        ("rkd", taps("pool", "block2"), "exactly 1"),
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
        ("ab", {"init_epochs": -1}, "init_epochs.*Received: init_epochs=-1"),
        ("at", {"feature_weight": -1.0}, "Received: feature_weight=-1.0"),
        ("kd", {"kd_weight": -1.0}, "Received: kd_weight=-1.0"),
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


@pytest.mark.parametrize(
    "name,kwargs,match",
    [
        ("at", {"mode": "gradient"}, r"mode -> GradientAttentionTransfer.*mode='gradient'"),
        ("fitnet", {"stage": "hint"}, r"stage -> set_stage.*Received: stage='hint'"),
        ("nst", {"distill_weight": 1.0}, r"distill_weight -> feature_weight.*distill_weight=1.0"),
        ("kd", {"alpha": 0.1}, r"unexpected arguments \['alpha'\].*Received: alpha=0.1"),
    ],
)
def test_arguments_renamed_in_0_2_are_refused_with_their_new_names(name, kwargs, match):
    cls, base_kwargs, _, _ = METHODS[name]
    student, teacher = tiny_pair()
    with pytest.raises(TypeError, match=match):
        cls(student=student, teacher=teacher, **{**base_kwargs, **kwargs})


def test_set_stage_accepts_only_the_stages_a_method_has():
    fitnet, _ = make("fitnet")
    assert fitnet.stages == ("init", "main")
    with pytest.raises(ValueError, match=r"stage.*\('init', 'main'\).*Received: stage='hint'"):
        fitnet.set_stage("hint")
    kd, _ = make("kd")
    assert kd.stages == ("main",)
    with pytest.raises(ValueError, match=r"\('main',\).*Received: stage='init'"):
        kd.set_stage("init")


def test_the_same_model_as_student_and_teacher_is_refused():
    model = tiny_cnn("net", 4)
    with pytest.raises(ValueError, match="must be different models.*the same model"):
        distillers.KD(student=model, teacher=model)


def test_a_compiled_cross_entropy_equals_the_built_in_task_term():
    distiller, _ = make("kd")
    x, y = tiny_data(8)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    built_in = distiller.test_on_batch(x, y, return_dict=True)["task_loss"]
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0), loss=loss)
    assert distiller.test_on_batch(x, y, return_dict=True)["task_loss"] == pytest.approx(
        built_in, rel=1e-6
    )


def test_ab_init_term_weights_layers_by_powers_of_two():
    from keras_kd.losses import activation_boundary_loss

    distiller, _ = make("ab")
    ab = term(distiller, "ab")
    assert ab.layer_weights == [0.5, 1.0]
    distiller.set_stage("init")
    x, y = tiny_data(8)
    x, y = tf.constant(x), tf.constant(y)
    teacher_out = distiller._run("teacher", x, y, False)
    student_out = distiller._run("student", x, y, True)
    expected = sum(
        w * activation_boundary_loss(teacher_out[t], c(student_out[s], training=True), 1.0)
        for (s, t), c, w in zip(
            [("block1_pre", "block1_pre"), ("block2_pre", "block2_pre")],
            ab.adapters,
            [0.5, 1.0],
            strict=True,
        )
    )
    got = ab(teacher_out, student_out, y, None)
    assert float(got) == pytest.approx(float(expected), rel=1e-5)
    assert distiller.loss_weights == {"ab": 3e-3}


def test_two_stage_defaults_follow_repdistillers_init_code():
    for name, init_weights in (("fsp", {"fsp": 1.0}), ("ab", {"ab": 3e-3})):
        cls, kwargs, _, equal_widths = METHODS[name]
        student, teacher = tiny_pair(student_width=8 if equal_widths else 4)
        kwargs = {k: v for k, v in kwargs.items() if k != "init_epochs"}
        distiller = cls(student=student, teacher=teacher, **kwargs)
        assert distiller.init_epochs == 30
        distiller.set_stage("init")
        assert distiller.loss_weights == init_weights
        distiller.set_stage("main")
        assert distiller.loss_weights == {"task": 1.0}
