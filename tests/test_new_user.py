"""A new user's own models and data (issue 12): legitimate uses that must work
and wrong uses that must be refused, with nothing changed.

Every legitimate use trains a couple of steps on models and data that nobody
on the team wrote (Sequential models, keras.applications, tf.data pipelines
with dict inputs, multi-input models, CIFAR-style labels, user callbacks) and
checks that the teacher is bit-identical afterwards (BatchNorm statistics
included), that the student changed and that every term is logged.

Every wrong use is refused with a typed error whose message names the
argument at fault and what was received, and leaves every variable of every
model, the optimizer's state and the files in ``tmp_path`` bit-identical.
`assert_refused` checks them in that order and raises a distinct assertion
for each failure (`NotRefusedError`, `StateChangedError`, `UnclearMessageError`), so that a
case marked ``xfail(raises=...)`` for a known library bug still fails if
anything else goes wrong.
"""

import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_kd import distillers
from keras_kd.cache import cache_teacher_outputs
from keras_kd.errors import LabelError, NonFiniteLossError, ProbabilityOutputError
from keras_kd.export import to_tflite
from tests.helpers import IMAGE_SHAPE, assert_same, changed, snapshot, tiny_cnn, tiny_data

N, BATCH = 8, 4
LAYERS = {"student_layers": ["block2"], "teacher_layers": ["block2"]}


# --------------------------------------------------------------------------
# Models and data a new user might bring
# --------------------------------------------------------------------------


def small_cnn(name, shape=IMAGE_SHAPE, width=4, num_classes=3, batch_norm=True):
    """Like `tiny_cnn`, at any input size: taps ``block1``, ``block2``, ``pool``."""
    inputs = keras.Input(shape, name="image")
    x = keras.layers.Conv2D(width, 3, padding="same", name="conv1")(inputs)
    if batch_norm:
        x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="block1")(x)
    x = keras.layers.Conv2D(2 * width, 3, strides=2, padding="same", name="conv2")(x)
    x = keras.layers.ReLU(name="block2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, name="logits")(x), name=name)


def sequential_cnn(name, width=4):
    return keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE),
            keras.layers.Conv2D(width, 3, padding="same", name="c1"),
            keras.layers.BatchNormalization(name="bn1"),
            keras.layers.ReLU(name="r1"),
            keras.layers.Conv2D(2 * width, 3, strides=2, padding="same", name="c2"),
            keras.layers.ReLU(name="r2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(3, name="out"),
        ],
        name=name,
    )


def mobilenet_teacher(name="mobilenet_teacher", classifier_activation=None):
    """A keras.applications teacher, randomly initialized (nothing downloaded)."""
    model = keras.applications.MobileNetV2(
        input_shape=(32, 32, 3),
        alpha=0.35,
        weights=None,
        classes=3,
        classifier_activation=classifier_activation,
    )
    model.name = name
    return model


def two_input_cnn(name, width=4, as_dict=False):
    """An image and a metadata vector: ``[image, meta]`` or ``{"image", "meta"}``."""
    image = keras.Input(IMAGE_SHAPE, name="image")
    meta = keras.Input((4,), name="meta")
    x = keras.layers.Conv2D(width, 3, padding="same", name="conv1")(image)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="block1")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Concatenate(name="joined")([x, keras.layers.Dense(width, name="m")(meta)])
    outputs = keras.layers.Dense(3, name="logits")(x)
    inputs = {"image": image, "meta": meta} if as_dict else [image, meta]
    return keras.Model(inputs, outputs, name=name)


@keras.saving.register_keras_serializable(package="test_new_user")
class SoftmaxHead(keras.layers.Layer):
    """A user's own layer that computes a softmax (invisible in the graph)."""

    def call(self, x):
        e = keras.ops.exp(x - keras.ops.max(x, axis=-1, keepdims=True))
        return e / keras.ops.sum(e, axis=-1, keepdims=True)


def pair(student_width=4, teacher_width=8, **kwargs):
    keras.utils.set_random_seed(0)
    return tiny_cnn("student", student_width, **kwargs), tiny_cnn(
        "teacher", teacher_width, **kwargs
    )


def data(n=N, seed=0):
    return tiny_data(n, seed)


def dataset(x, y, *extra):
    return tf.data.Dataset.from_tensor_slices((x, y, *extra)).batch(BATCH)


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------


class NotRefusedError(AssertionError):
    """A wrong use was accepted (or raised an error of another type)."""


class StateChangedError(AssertionError):
    """A refused wrong use changed a model, the optimizer or a file."""


class UnclearMessageError(AssertionError):
    """The error does not name the argument at fault and what was received."""


def files(directory):
    if directory is None:
        return {}
    found = {}
    for root, dirs, names in os.walk(directory):
        for d in dirs:
            found[os.path.relpath(os.path.join(root, d), directory) + "/"] = None
        for n in names:
            path = os.path.join(root, n)
            with open(path, "rb") as f:
                found[os.path.relpath(path, directory)] = f.read()
    return found


def all_layers(model):
    """``model`` and every layer in it, nested models included."""
    layers = [model]
    for layer in getattr(model, "layers", []):
        layers += all_layers(layer)
    return layers


def capture(models=(), distiller=None, directory=None):
    """Every variable and `trainable` flag of ``models``, the optimizer's
    variables and the files under ``directory``."""
    state = {
        "variables": [snapshot(m) for m in models],
        "flags": [[layer.trainable for layer in all_layers(m)] for m in models],
        "files": files(directory),
    }
    optimizer = getattr(distiller, "optimizer", None)
    if isinstance(optimizer, keras.optimizers.Optimizer):
        state["optimizer"] = [v.numpy() for v in optimizer.variables]
    return state


def assert_unchanged(before, after):
    try:
        for a, b in zip(before["variables"], after["variables"], strict=True):
            assert_same(a, b)
        assert before["flags"] == after["flags"], "a trainable flag changed"
        if "optimizer" in before:
            assert_same(before["optimizer"], after["optimizer"])
        assert before["files"].keys() == after["files"].keys(), "files were written"
        for name, content in before["files"].items():
            assert after["files"][name] == content, f"{name} changed"
    except AssertionError as err:
        raise StateChangedError(str(err)) from None


def assert_clear(message, arguments, match=None):
    """The message names one of ``arguments`` (as `name` or name=) and says
    what was received; ``match`` is an extra regular expression."""
    arguments = (arguments,) if isinstance(arguments, str) else arguments
    named = any(f"`{a}`" in message or f"{a}=" in message for a in arguments)
    if not named or "Received" not in message or (match and not re.search(match, message)):
        raise UnclearMessageError(
            f"expected the argument {' or '.join(arguments)}, 'Received'"
            f"{' and ' + repr(match) if match else ''} in the message: {message}"
        )


def assert_refused(action, error, arguments, match=None, models=(), distiller=None, directory=None):
    """Runs ``action``; it must raise ``error`` with a clear message and change
    nothing of ``models``, ``distiller``'s optimizer and ``directory``."""
    before = capture(models, distiller, directory)
    try:
        with pytest.raises(error) as info:
            action()
    except pytest.fail.Exception as failed:
        raise NotRefusedError(f"{error}: {failed}") from None
    except Exception as other:
        raise NotRefusedError(f"expected {error}, got {type(other).__name__}: {other}") from other
    assert_unchanged(before, capture(models, distiller, directory))
    assert_clear(str(info.value), arguments, match)
    return info.value


def user_callbacks(tmp_path):
    """Callbacks that would write files if a refused step got through."""
    return [
        keras.callbacks.ModelCheckpoint(str(tmp_path / "ckpt.keras"), save_freq=1),
        keras.callbacks.BackupAndRestore(str(tmp_path / "backup")),
    ]


def assert_distilled(fit, students, teachers, logged):
    """``fit()`` trains every student, leaves every teacher bit-identical
    (weights, BatchNorm statistics, trainable flags) and logs ``logged``."""
    teachers_before = capture(teachers)
    students_before = [snapshot(s) for s in students]
    history = fit()
    assert_unchanged(teachers_before, capture(teachers))
    for student, before in zip(students, students_before, strict=True):
        assert changed(before, snapshot(student)), f"{student.name} did not change"
    assert set(logged) <= set(history.history), sorted(history.history)
    for key in logged:
        assert np.all(np.isfinite(history.history[key])), (key, history.history[key])
    return history


def kd_fit(student, teacher, x, y=None, logged=("loss", "task_loss", "kd_loss"), **fit_kwargs):
    d = distillers.KD(student=student, teacher=teacher)
    d.compile(optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"])
    fit_kwargs.setdefault("batch_size", None if isinstance(x, tf.data.Dataset) else BATCH)
    assert_distilled(
        lambda: d.fit(x, y, epochs=1, verbose=0, **fit_kwargs), [student], [teacher], logged
    )
    return d


# ==========================================================================
# Legitimate uses
# ==========================================================================


def test_sequential_student_and_teacher():
    keras.utils.set_random_seed(0)
    student, teacher = sequential_cnn("seq_student", 4), sequential_cnn("seq_teacher", 8)
    kd_fit(student, teacher, *data(), logged=("loss", "task_loss", "kd_loss", "accuracy"))


def test_sequential_models_tapped_by_layer_name():
    keras.utils.set_random_seed(0)
    student, teacher = sequential_cnn("seq_student", 4), sequential_cnn("seq_teacher", 8)
    d = distillers.AttentionTransfer(
        student, teacher, student_layers=["r1", "r2"], teacher_layers=["r1", "r2"]
    )
    d.compile(optimizer="adam")
    x, y = data()
    assert_distilled(
        lambda: d.fit(x, y, batch_size=BATCH, epochs=1, verbose=0),
        [student],
        [teacher],
        ["at_loss", "task_loss"],
    )


def test_keras_applications_teacher_tapped_inside_by_name():
    keras.utils.set_random_seed(0)
    teacher = mobilenet_teacher()
    student = small_cnn("student32", shape=(32, 32, 3))
    d = distillers.AttentionTransfer(
        student,
        teacher,
        student_layers=["block2"],
        teacher_layers=["block_1_expand_relu"],
        kd_weight=0.5,
    )
    d.compile(optimizer="adam")
    x = np.random.default_rng(0).uniform(0, 1, (N, 32, 32, 3)).astype("float32")
    y = np.arange(N) % 3
    assert_distilled(
        lambda: d.fit(x, y, batch_size=BATCH, epochs=1, verbose=0),
        [student],
        [teacher],
        ["at_loss", "kd_loss", "task_loss"],
    )


def test_cifar10_style_uint8_images_and_n_by_1_uint8_labels():
    """What `keras.datasets.cifar10.load_data()` returns: uint8 images, (n, 1) uint8 labels."""
    keras.utils.set_random_seed(0)
    student = small_cnn("student32", shape=(32, 32, 3))
    teacher = small_cnn("teacher32", shape=(32, 32, 3), width=8)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (N, 32, 32, 3)).astype("uint8")
    y = rng.integers(0, 3, (N, 1)).astype("uint8")
    kd_fit(student, teacher, x, y)


def test_n_by_1_integer_labels():
    x, y = data()
    kd_fit(*pair(), x, y.reshape(-1, 1).astype("int64"))


def test_tf_data_dict_dataset_keyed_by_the_input_name():
    x, y = data()
    kd_fit(*pair(), tf.data.Dataset.from_tensor_slices(({"image": x}, y)).batch(BATCH))


def test_multi_input_model_fed_a_list():
    keras.utils.set_random_seed(0)
    student, teacher = two_input_cnn("student", 4), two_input_cnn("teacher", 8)
    x, y = data()
    meta = np.random.default_rng(1).normal(size=(N, 4)).astype("float32")
    kd_fit(student, teacher, [x, meta], y)


def test_dict_input_model_fed_a_dict_with_a_feature_tap():
    keras.utils.set_random_seed(0)
    student = two_input_cnn("student", 4, as_dict=True)
    teacher = two_input_cnn("teacher", 8, as_dict=True)
    x, y = data()
    meta = np.random.default_rng(1).normal(size=(N, 4)).astype("float32")
    d = distillers.AttentionTransfer(
        student, teacher, student_layers=["block1"], teacher_layers=["block1"], kd_weight=0.5
    )
    d.compile(optimizer="adam")
    assert_distilled(
        lambda: d.fit({"image": x, "meta": meta}, y, batch_size=BATCH, epochs=1, verbose=0),
        [student],
        [teacher],
        ["at_loss", "kd_loss", "task_loss"],
    )


def test_one_hot_labels():
    x, y = data()
    kd_fit(*pair(), x, np.eye(3, dtype="float32")[y])


def test_soft_probability_labels():
    """Label smoothing or mixup targets: rows of probabilities, not one-hot."""
    x, y = data()
    soft = 0.8 * np.eye(3, dtype="float32")[y] + 0.2 / 3
    kd_fit(*pair(), x, soft)


def test_sample_weights():
    x, y = data()
    weights = np.linspace(0.0, 2.0, N).astype("float32")
    kd_fit(*pair(), x, y, sample_weight=weights)


def test_early_stopping_with_restore_best_weights():
    student, teacher = pair()
    x, y = data()
    d = distillers.KD(student=student, teacher=teacher)
    d.compile(optimizer=keras.optimizers.Adam(1e-2))
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, restore_best_weights=True)
    assert_distilled(
        lambda: d.fit(x, y, batch_size=BATCH, epochs=3, verbose=0, callbacks=[stop]),
        [student],
        [teacher],
        ["kd_loss", "task_loss"],
    )


def test_model_checkpoint_saves_a_distiller_whose_student_reloads(tmp_path):
    student, teacher = pair()
    x, y = data()
    path = tmp_path / "best.keras"
    checkpoint = keras.callbacks.ModelCheckpoint(str(path), monitor="val_loss", save_best_only=True)
    d = kd_fit(student, teacher, x, y, validation_data=(x, y), callbacks=[checkpoint])
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.student.predict(x, verbose=0), student.predict(x, verbose=0), atol=1e-6
    )
    assert loaded.student.name == d.student.name


def test_custom_callback_sees_every_term_in_its_logs():
    class Recorder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.batches, self.epochs = [], []

        def on_train_batch_end(self, batch, logs=None):
            self.batches.append(dict(logs))

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append(dict(logs))

    recorder = Recorder()
    x, y = data()
    kd_fit(*pair(), x, y, callbacks=[recorder])
    assert len(recorder.batches) == N // BATCH and len(recorder.epochs) == 1
    for logs in [*recorder.batches, *recorder.epochs]:
        assert {"loss", "task_loss", "kd_loss", "accuracy"} <= set(logs)
        assert all(np.isfinite(float(v)) for v in logs.values())


def test_backup_and_restore_resumes_after_an_interruption(tmp_path):
    student, teacher = pair()
    x, y = data()
    d = distillers.KD(student=student, teacher=teacher)
    d.compile(optimizer=keras.optimizers.Adam(1e-2))
    backup = str(tmp_path / "backup")

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("power cut")

    teacher_before = snapshot(teacher)
    with pytest.raises(RuntimeError, match="power cut"):
        d.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=2,
            verbose=0,
            callbacks=[keras.callbacks.BackupAndRestore(backup), Interrupt()],
        )
    assert os.path.isdir(backup)
    after_first_epoch = snapshot(student)
    history = assert_distilled(
        lambda: d.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=2,
            verbose=0,
            callbacks=[keras.callbacks.BackupAndRestore(backup)],
        ),
        [student],
        [teacher],
        ["kd_loss", "task_loss"],
    )
    assert len(history.history["loss"]) == 1, "the second fit resumes at epoch 2"
    assert changed(after_first_epoch, snapshot(student))
    assert_same(teacher_before, snapshot(teacher))
    assert not os.path.exists(backup)


def test_validation_data_evaluate_and_predict():
    student, teacher = pair()
    x, y = data()
    xv, yv = data(seed=1)
    d = kd_fit(
        student, teacher, x, y, validation_data=(xv, yv), logged=("val_loss", "val_accuracy")
    )
    teacher_before = snapshot(teacher)
    logs = d.evaluate(xv, yv, batch_size=BATCH, verbose=0, return_dict=True)
    assert {"loss", "task_loss", "accuracy"} <= set(logs)
    assert np.isfinite(logs["loss"])
    np.testing.assert_allclose(
        d.predict(xv, batch_size=BATCH, verbose=0),
        student.predict(xv, batch_size=BATCH, verbose=0),
        atol=1e-6,
    )
    assert_same(teacher_before, snapshot(teacher))


def test_single_logit_binary_classifier_with_kd():
    student, teacher = pair(num_classes=1)
    x, _ = data()
    y = (np.arange(N) % 2).astype("int32")
    d = kd_fit(student, teacher, x, y, logged=("task_loss", "kd_loss", "accuracy"))
    assert 0.0 <= d.evaluate(x, y, verbose=0, return_dict=True)["accuracy"] <= 1.0


def test_single_logit_binary_classifier_with_attention_transfer():
    student, teacher = pair(num_classes=1)
    x, _ = data()
    y = (np.arange(N) % 2).astype("float32")
    d = distillers.AttentionTransfer(student, teacher, **LAYERS)
    d.compile(optimizer="adam", metrics=["accuracy"])
    assert_distilled(
        lambda: d.fit(x, y, batch_size=BATCH, epochs=1, verbose=0),
        [student],
        [teacher],
        ["at_loss", "task_loss", "accuracy"],
    )


def test_teacher_at_32x32_through_teacher_input_resizing():
    keras.utils.set_random_seed(0)
    student = tiny_cnn("student16", 4)
    teacher = small_cnn("teacher32", shape=(32, 32, 3), width=8)
    d = distillers.Distiller(
        student,
        teacher,
        kd_weight=0.9,
        task_weight=0.1,
        teacher_input=keras.layers.Resizing(32, 32),
        terms=[distillers.AttentionTerm(1000.0, ["block2"], ["block2"])],
    )
    d.compile(optimizer="adam")
    x, y = data()
    assert_distilled(
        lambda: d.fit(x, y, batch_size=BATCH, epochs=1, verbose=0),
        [student],
        [teacher],
        ["kd_loss", "at_loss", "task_loss"],
    )


def test_teacher_assistant_chain_big_mid_small():
    keras.utils.set_random_seed(0)
    big, mid, small = tiny_cnn("big", 16), tiny_cnn("mid", 8), tiny_cnn("small", 2)
    x, y = data()
    kd_fit(mid, big, x, y)  # mid changes, big does not
    kd_fit(small, mid, x, y)  # small changes, mid does not
    assert mid.trainable and big.trainable


def test_teacher_trainable_flag_stays_as_the_user_set_it():
    student, teacher = pair()
    flags = [layer.trainable for layer in all_layers(teacher)]
    assert teacher.trainable
    kd_fit(student, teacher, *data())
    assert teacher.trainable, "the user's True stays True"
    assert flags == [layer.trainable for layer in all_layers(teacher)]
    frozen_student, frozen_teacher = pair()
    frozen_teacher.trainable = False
    distillers.KD(student=frozen_student, teacher=frozen_teacher)
    assert not frozen_teacher.trainable, "the user's False stays False"


FEATURE_METHODS = {
    "FitNet": lambda s, t: distillers.FitNet(s, t, **LAYERS, kd_weight=0.5),
    "AttentionTransfer": lambda s, t: distillers.AttentionTransfer(s, t, **LAYERS, kd_weight=0.5),
    "NST": lambda s, t: distillers.NST(s, t, **LAYERS, kd_weight=0.5),
    "FactorTransfer": lambda s, t: distillers.FactorTransfer(
        s, t, **LAYERS, kd_weight=0.5, init_epochs=1
    ),
    "ActivationBoundary": lambda s, t: distillers.ActivationBoundary(
        s,
        t,
        student_layers=["block2_pre"],
        teacher_layers=["block2_pre"],
        kd_weight=0.5,
        init_epochs=1,
    ),
    "FSP": lambda s, t: distillers.FSP(
        s,
        t,
        student_layers=["block1", "block2"],
        teacher_layers=["block1", "block2"],
        kd_weight=0.5,
        init_epochs=1,
    ),
    "RKD": lambda s, t: distillers.RKD(
        s, t, student_layers=["pool"], teacher_layers=["pool"], kd_weight=0.5
    ),
    "GradientAttentionTransfer": lambda s, t: distillers.GradientAttentionTransfer(
        s, t, kd_weight=0.5
    ),
}


@pytest.mark.parametrize("method", sorted(FEATURE_METHODS))
def test_kd_weight_adds_a_kd_term_to_every_feature_method(method):
    # FSP compares flow matrices channel for channel: equal widths.
    student, teacher = pair(teacher_width=4 if method == "FSP" else 8)
    d = FEATURE_METHODS[method](student, teacher)
    assert d.kd_weight == 0.5
    d.compile(optimizer="adam")
    x, y = data()
    assert_distilled(
        lambda: d.fit(x, y, batch_size=BATCH, epochs=1, verbose=0),
        [student],
        [teacher],
        ["kd_loss", "task_loss", "loss"],
    )


def test_composed_distiller_with_attention_and_nst_terms():
    student, teacher = pair()
    d = distillers.Distiller(
        student,
        teacher,
        kd_weight=0.5,
        terms=[
            distillers.AttentionTerm(1000.0, ["block1", "block2"], ["block1", "block2"]),
            distillers.NSTTerm(50.0, ["block2"], ["block2"]),
        ],
    )
    d.compile(optimizer="adam", metrics=["accuracy"])
    x, y = data()
    assert_distilled(
        lambda: d.fit(x, y, batch_size=BATCH, epochs=1, verbose=0),
        [student],
        [teacher],
        ["at_loss", "nst_loss", "kd_loss", "task_loss", "accuracy"],
    )


def test_cache_teacher_outputs_on_a_dict_dataset():
    student, teacher = pair()
    x, y = data()
    d = distillers.AttentionTransfer(student, teacher, **LAYERS, kd_weight=0.5)
    teacher_before = snapshot(teacher)
    cache = cache_teacher_outputs(d, tf.data.Dataset.from_tensor_slices(({"image": x}, y)))
    assert cache.samples == N
    d.compile(optimizer="adam")
    assert_distilled(
        lambda: d.fit(cache.dataset.batch(BATCH), epochs=1, verbose=0),
        [student],
        [teacher],
        ["at_loss", "kd_loss", "task_loss"],
    )
    assert_same(teacher_before, snapshot(teacher))


def test_export_a_distilled_sequential_student_to_float_tflite(tmp_path):
    keras.utils.set_random_seed(0)
    student, teacher = sequential_cnn("seq_student", 4), sequential_cnn("seq_teacher", 8)
    x, y = data()
    d = kd_fit(student, teacher, x, y)
    path = tmp_path / "student.tflite"
    report = to_tflite(d.student, str(path), check_data=(x, y))
    assert path.stat().st_size == report.size_bytes > 0
    assert report.max_abs_diff < 1e-3
    assert report.litert_agreement == 1.0


def test_dml_peers_made_with_clone_model():
    """The fix the 'same model twice' error suggests must itself work."""
    keras.utils.set_random_seed(0)
    first = tiny_cnn("peer", 4)
    second = keras.models.clone_model(first)
    dml = distillers.DeepMutualLearning([first, second])
    dml.compile(optimizer="adam")
    x, y = data()
    assert_distilled(
        lambda: dml.fit(x, y, batch_size=BATCH, epochs=1, verbose=0),
        [first, second],
        [],
        ["peer0_task_loss", "peer1_kd_loss"],
    )


# ==========================================================================
# Wrong uses: refused, nothing changed
# ==========================================================================

# NaN/inf in the data: the guard's NonFiniteLossError, or a ValueError from a
# check of the data itself (as NumPy labels get before training).
BAD_DATA = (NonFiniteLossError, ValueError)


def relu_pair():
    """ReLU models without BatchNorm: a NaN pixel stays local to its sample."""
    return pair(batch_norm=False)


def compiled_kd(jit_compile, student, teacher):
    d = distillers.KD(student=student, teacher=teacher)
    d.compile(optimizer="adam", jit_compile=jit_compile)
    return d


def refused_fit(d, models, tmp_path, error, arguments, match=None, x=None, y=None, **fit_kwargs):
    if isinstance(x, tf.data.Dataset):
        fit_kwargs = {k: v for k, v in fit_kwargs.items() if v is not None}
    else:
        # The fault is in the first batch: nothing may have changed before it.
        fit_kwargs.setdefault("batch_size", BATCH)
        fit_kwargs.setdefault("shuffle", False)
    return assert_refused(
        lambda: d.fit(x, y, epochs=1, verbose=0, callbacks=user_callbacks(tmp_path), **fit_kwargs),
        error,
        arguments,
        match,
        models=models,
        distiller=d,
        directory=tmp_path,
    )


# XLA variants compile for several seconds each: they run with -m slow; the
# step guard under XLA runs by default in tests/distillers/test_guard.py.
_XLA = pytest.mark.slow
JIT = pytest.mark.parametrize(
    "jit_compile",
    [pytest.param(False, id="graph"), pytest.param(True, id="xla", marks=_XLA)],
)

# NumPy data can be checked before training; a dataset only batch by batch,
# inside the step (in graph mode and under XLA).
SOURCES = pytest.mark.parametrize(
    "source, jit_compile",
    [
        pytest.param("numpy", False, id="numpy"),
        pytest.param("dataset", False, id="dataset"),
        pytest.param("dataset", True, id="dataset-xla", marks=_XLA),
    ],
)


def feed(source, x, y, sample_weight=None):
    """``fit`` keyword arguments for the same data as arrays or as a dataset."""
    if source == "numpy":
        return {"x": x, "y": y, "sample_weight": sample_weight}
    extra = () if sample_weight is None else (sample_weight,)
    return {"x": dataset(x, y, *extra)}


@SOURCES
def test_nan_pixel(source, jit_compile, tmp_path):
    student, teacher = relu_pair()
    x, y = data()
    x[1, 3, 4, 0] = np.nan
    d = compiled_kd(jit_compile, student, teacher)
    refused_fit(d, [student, teacher], tmp_path, BAD_DATA, "x", **feed(source, x, y))


def test_nan_pixel_in_a_later_batch_changes_nothing(tmp_path):
    """NumPy data is all in memory: a NaN in the last sample is as visible
    before training as a NaN label (and fit shuffles by default, so any
    sample can come late)."""
    student, teacher = relu_pair()
    x, y = data()
    x[N - 1, 3, 4, 0] = np.nan
    d = compiled_kd(False, student, teacher)
    refused_fit(d, [student, teacher], tmp_path, BAD_DATA, "x", x=x, y=y)


@SOURCES
def test_inf_pixel(source, jit_compile, tmp_path):
    student, teacher = relu_pair()
    x, y = data()
    x[2, 0, 0, 2] = np.inf
    d = compiled_kd(jit_compile, student, teacher)
    refused_fit(d, [student, teacher], tmp_path, BAD_DATA, "x", **feed(source, x, y))


@pytest.mark.parametrize(
    "jit_compile",
    [
        pytest.param(False, id="graph"),
        pytest.param(True, id="xla", marks=_XLA),
    ],
)
def test_nan_label_in_a_dataset(jit_compile, tmp_path):
    student, teacher = pair()
    x, y = data()
    y = y.astype("float32")
    y[3] = np.nan
    d = compiled_kd(jit_compile, student, teacher)
    refused_fit(d, [student, teacher], tmp_path, LabelError, "y", "1 NaN value", x=dataset(x, y))


def test_nan_in_numpy_one_hot_labels(tmp_path):
    student, teacher = pair()
    x, y = data()
    y = np.eye(3, dtype="float32")[y]
    y[0, 1] = np.nan
    d = compiled_kd(False, student, teacher)
    refused_fit(d, [student, teacher], tmp_path, ValueError, "y", "NaN", x=x, y=y)


@SOURCES
def test_nan_sample_weight(source, jit_compile, tmp_path):
    student, teacher = pair()
    x, y = data()
    weights = np.ones(N, "float32")
    weights[2] = np.nan
    d = compiled_kd(jit_compile, student, teacher)
    data_kwargs = feed(source, x, y, weights)
    refused_fit(d, [student, teacher], tmp_path, BAD_DATA, "sample_weight", **data_kwargs)


@JIT
def test_nan_in_validation_data(jit_compile, tmp_path):
    """In-memory validation data are checked with the training data: the fit
    is refused before its first epoch, nothing trained and no file written
    (a dataset's NaN is found at its validation batch, `test_guard.py`)."""
    student, teacher = pair()
    x, y = data()
    xv = x.copy()
    xv[0, 0, 0, 0] = np.nan
    d = compiled_kd(jit_compile, student, teacher)
    callbacks = [
        keras.callbacks.ModelCheckpoint(str(tmp_path / "best.keras"), save_best_only=True),
        keras.callbacks.BackupAndRestore(str(tmp_path / "backup")),
    ]
    assert_refused(
        lambda: d.fit(
            x, y, batch_size=BATCH, verbose=0, validation_data=(xv, y), callbacks=callbacks
        ),
        BAD_DATA,
        ("validation_data", "x"),
        "(?i)validation",
        models=[student, teacher],
        directory=tmp_path,
    )
    assert int(d.optimizer.iterations.numpy()) == 0


def test_nan_pixel_deep_mutual_learning(tmp_path):
    peers = list(relu_pair())
    x, y = data()
    x[0, 5, 5, 1] = np.nan
    d = distillers.DeepMutualLearning(peers)
    d.compile(optimizer="adam")
    refused_fit(d, peers, tmp_path, BAD_DATA, "x", x=x, y=y)


def test_nan_pixel_one(tmp_path):
    model = relu_pair()[0]
    x, y = data()
    x[0, 5, 5, 1] = np.nan
    d = distillers.ONE(model, cut_layer="block1", branches=2)
    d.compile(optimizer="adam")
    refused_fit(d, [d.network], tmp_path, BAD_DATA, "x", x=x, y=y)


def test_nan_pixel_byot(tmp_path):
    model = relu_pair()[0]
    x, y = data()
    x[0, 5, 5, 1] = np.nan
    d = distillers.BYOT(model, exit_layers=["block1"], deep_layer="block2")
    d.compile(optimizer="adam")
    refused_fit(d, [d.network], tmp_path, BAD_DATA, "x", x=x, y=y)


def test_regression_style_float_targets_of_shape_n_by_1(tmp_path):
    student, teacher = pair()
    x, _ = data()
    y = np.full((N, 1), 0.3, "float32")
    d = compiled_kd(False, student, teacher)
    refused_fit(d, [student, teacher], tmp_path, ValueError, "y", "0.3", x=x, y=y)


def test_float_rows_that_are_not_distributions(tmp_path):
    """Multi-hot rows (several classes at 1) are not class probabilities."""
    student, teacher = pair()
    x, y = data()
    rows = np.eye(3, dtype="float32")[y]
    rows[:, 0] = 1.0
    d = compiled_kd(False, student, teacher)
    refused_fit(d, [student, teacher], tmp_path, ValueError, "y", "summing to", x=x, y=rows)


def test_one_based_labels_in_a_dataset_refused_at_the_first_batch(tmp_path):
    """Labels 1..3 for 3 classes, shape (n, 1): the dataset is only seen batch by batch."""
    student, teacher = pair()
    x, _ = data()
    y = (np.arange(N) % 3 + 1).reshape(-1, 1).astype("int64")
    d = compiled_kd(False, student, teacher)
    error = refused_fit(
        d, [student, teacher], tmp_path, LabelError, "y", "batch 0", x=dataset(x, y)
    )
    assert "to 3" in str(error)


def test_string_labels_in_numpy(tmp_path):
    student, teacher = pair()
    x, y = data()
    names = np.array(["cat", "dog", "bird"])[y]
    d = compiled_kd(False, student, teacher)
    refused_fit(d, [student, teacher], tmp_path, ValueError, "y", "dtype", x=x, y=names)


def test_string_labels_in_a_dataset(tmp_path):
    student, teacher = pair()
    x, y = data()
    names = np.array(["cat", "dog", "bird"])[y]
    d = compiled_kd(False, student, teacher)
    refused_fit(d, [student, teacher], tmp_path, ValueError, "y", "string", x=dataset(x, names))


def _softmax_teacher_ops():
    t = tiny_cnn("teacher", 8)
    return keras.Model(t.inputs, keras.ops.softmax(t.output), name="ops_softmax_teacher")


def _softmax_then_identity():
    t = tiny_cnn("teacher", 8)
    probs = keras.layers.Dense(3, activation="softmax", name="probs")(t.get_layer("pool").output)
    return keras.Model(t.inputs, keras.layers.Identity(name="id")(probs), name="sm_id_teacher")


@pytest.mark.parametrize(
    "make_teacher",
    [_softmax_teacher_ops, _softmax_then_identity],
    ids=["keras.ops.softmax", "softmax then Identity"],
)
def test_teacher_ending_in_a_softmax(make_teacher):
    keras.utils.set_random_seed(0)
    student, teacher = tiny_cnn("student", 4), make_teacher()
    assert_refused(
        lambda: distillers.KD(student=student, teacher=teacher),
        ValueError,
        "teacher",
        "must output logits.*softmax",
        models=[student, teacher],
    )


def test_keras_applications_teacher_with_its_default_softmax_head():
    keras.utils.set_random_seed(0)
    teacher = mobilenet_teacher(classifier_activation="softmax")
    student = small_cnn("student32", shape=(32, 32, 3))
    assert_refused(
        lambda: distillers.KD(student=student, teacher=teacher),
        ValueError,
        "teacher",
        "classifier_activation=None",
        models=[student, teacher],
    )


def test_teacher_with_a_custom_softmax_layer_refused_at_the_first_batch(tmp_path):
    student, base = pair()
    teacher = keras.Model(base.inputs, SoftmaxHead(name="my_head")(base.output), name="custom")
    d = distillers.KD(student=student, teacher=teacher)  # the graph cannot show it
    d.compile(optimizer="adam")
    x, y = data()
    refused_fit(
        d, [student, teacher], tmp_path, ProbabilityOutputError, "teacher", "batch 0", x=x, y=y
    )


def test_the_same_model_as_student_and_teacher():
    model = tiny_cnn("model", 4)
    assert_refused(
        lambda: distillers.KD(student=model, teacher=model),
        ValueError,
        ("student", "teacher"),
        "the same model",
        models=[model],
    )


def test_the_same_model_twice_as_mutual_learning_peers():
    model = tiny_cnn("model", 4)
    assert_refused(
        lambda: distillers.DeepMutualLearning([model, model]),
        ValueError,
        ("peers[0]", "peers[1]"),
        "clone_model",
        models=[model],
    )


def test_born_again_whose_builder_returns_one_instance(tmp_path):
    keras.utils.set_random_seed(0)
    teacher, student = tiny_cnn("teacher", 8), tiny_cnn("student", 4)
    x, y = data()

    def run():
        ban = distillers.BornAgain(teacher, lambda: student, generations=2)
        ban.compile(optimizer="adam")
        ban.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)

    assert_refused(
        run, ValueError, "build_student", "new model", models=[student, teacher], directory=tmp_path
    )


def test_student_with_trainable_false():
    student, teacher = pair()
    student.trainable = False
    assert_refused(
        lambda: distillers.KD(student=student, teacher=teacher),
        ValueError,
        "student",
        "trainable",
        models=[student, teacher],
    )


@pytest.mark.parametrize("scheme", ["DeepMutualLearning", "ONE"])
def test_fractional_deploy_index(scheme):
    keras.utils.set_random_seed(0)
    models = [tiny_cnn("a", 4), tiny_cnn("b", 4)]
    if scheme == "ONE":
        make = lambda: distillers.ONE(models[0], cut_layer="block1", deploy_index=1.5)  # noqa: E731
    else:
        make = lambda: distillers.DeepMutualLearning(models, deploy_index=1.5)  # noqa: E731
    assert_refused(make, ValueError, "deploy_index", r"deploy_index=1\.5", models=models)


HUGE_TEMPERATURE = {
    "Distiller": lambda s, t: distillers.Distiller(s, t, kd_weight=0.5, temperature=1e20),
    "AttentionTransfer": lambda s, t: distillers.AttentionTransfer(
        s, t, **LAYERS, kd_weight=0.5, temperature=1e20
    ),
    "DeepMutualLearning": lambda s, t: distillers.DeepMutualLearning([s, t], temperature=1e20),
    "ONE": lambda s, t: distillers.ONE(s, cut_layer="block1", temperature=1e20),
    "BYOT": lambda s, t: distillers.BYOT(
        s, exit_layers=["block1"], deep_layer="block2", temperature=1e20
    ),
}


@pytest.mark.parametrize("scheme", sorted(HUGE_TEMPERATURE))
def test_huge_temperature(scheme):
    student, teacher = pair()
    assert_refused(
        lambda: HUGE_TEMPERATURE[scheme](student, teacher),
        ValueError,
        "temperature",
        r"temperature=1e\+20",
        models=[student, teacher],
    )


def test_byot_exit_on_a_pooled_2d_layer():
    model = tiny_cnn("model", 4)
    assert_refused(
        lambda: distillers.BYOT(model, exit_layers=["pool"], deep_layer="block2"),
        ValueError,
        "exit_layers",
        "pool",
        models=[model],
    )


OLD_NAMES = {
    "KD distill_weight": (
        lambda s, t: distillers.KD(s, t, distill_weight=0.5),
        "kd_weight",
        r"distill_weight=0\.5",
    ),
    "FitNet distill_weight": (
        lambda s, t: distillers.FitNet(s, t, **LAYERS, distill_weight=100.0),
        "feature_weight",
        r"distill_weight=100\.0",
    ),
    "DML deploy_branch": (
        lambda s, t: distillers.DeepMutualLearning([s, t], deploy_branch=1),
        "deploy_index",
        "deploy_branch=1",
    ),
    "ONE deploy_branch": (
        lambda s, t: distillers.ONE(s, cut_layer="block1", deploy_branch=1),
        "deploy_index",
        "deploy_branch=1",
    ),
}


@pytest.mark.parametrize("case", sorted(OLD_NAMES))
def test_old_argument_names_point_to_the_new_ones(case):
    make, new_name, received = OLD_NAMES[case]
    student, teacher = pair()
    assert_refused(
        lambda: make(student, teacher),
        TypeError,
        received.split("=")[0],
        f"(?s){new_name}.*Received: .*{received}",
        models=[student, teacher],
    )


def test_keras_applications_teacher_of_another_input_size_without_teacher_input():
    keras.utils.set_random_seed(0)
    student, teacher = tiny_cnn("student", 4), mobilenet_teacher()
    assert_refused(
        lambda: distillers.KD(student=student, teacher=teacher),
        ValueError,
        "teacher_input",
        r"\(16, 16, 3\).*\(32, 32, 3\)",
        models=[student, teacher],
    )


def test_teacher_input_that_makes_the_wrong_size(tmp_path):
    keras.utils.set_random_seed(0)
    student = tiny_cnn("student", 4)
    teacher = small_cnn("teacher32", shape=(32, 32, 3), width=8)
    x, y = data()

    def run():
        resize = keras.layers.Resizing(24, 24)
        d = distillers.KD(student=student, teacher=teacher, teacher_input=resize)
        d.compile(optimizer="adam")
        d.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=user_callbacks(tmp_path))

    assert_refused(
        run, ValueError, "teacher_input", r"24", models=[student, teacher], directory=tmp_path
    )


def test_compile_with_a_keras_loss_on_probabilities():
    """What every Keras tutorial does: ``compile(optimizer, loss=..., metrics=...)``,
    with the string's default ``from_logits=False``: keras_kd students output logits."""
    student, teacher = pair()
    d = distillers.KD(student=student, teacher=teacher)
    assert_refused(
        lambda: d.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        ),
        ValueError,
        "loss",
        "from_logits=True",
        models=[student, teacher],
    )


def test_teacher_input_given_as_an_image_size():
    student = tiny_cnn("student", 4)
    teacher = small_cnn("teacher32", shape=(32, 32, 3), width=8)
    assert_refused(
        lambda: distillers.KD(student=student, teacher=teacher, teacher_input=(32, 32)),
        ValueError,
        "teacher_input",
        r"Resizing|layer",
        models=[student, teacher],
    )


# ==========================================================================
# Issue 27: sequence and tabular models, dict outputs, chains, inf labels
# ==========================================================================


def dict_output(model, key="class_logits"):
    """``model`` returning ``{key: logits}`` (as keras-hub style heads do)."""
    return keras.Model(model.inputs, {key: model.output}, name=f"{model.name}_dict")


DICT_OUTPUT_ROLES = {
    "KD student": (
        lambda m: distillers.KD(student=m, teacher=tiny_cnn("teacher", 8)),
        "student",
    ),
    "KD teacher": (
        lambda m: distillers.KD(student=tiny_cnn("student"), teacher=m),
        "teacher",
    ),
    "DML peer": (
        lambda m: distillers.DeepMutualLearning([tiny_cnn("peer0"), m]),
        "peers[1]",
    ),
    "ONE model": (lambda m: distillers.ONE(m, cut_layer="block1", branches=2), "model"),
    "BYOT model": (
        lambda m: distillers.BYOT(m, exit_layers=["block1"], deep_layer="block2"),
        "model",
    ),
    "ensemble teacher": (
        lambda m: distillers.ensemble_teacher([tiny_cnn("t0", 8), m]),
        "teachers[1]",
    ),
}


@pytest.mark.parametrize("role", sorted(DICT_OUTPUT_ROLES))
def test_dict_output_model_refused_with_the_rewrap(role):
    """A dict output used to train, then break `evaluate` with a raw TypeError
    from the label code and make `predict` return a dict."""
    make, argument = DICT_OUTPUT_ROLES[role]
    keras.utils.set_random_seed(0)
    model = dict_output(tiny_cnn("net", 4))
    assert_refused(
        lambda: make(model),
        ValueError,
        argument,
        re.escape(f'keras.Model({argument}.inputs, {argument}.output["class_logits"])'),
        models=[model],
    )


def test_the_suggested_rewrap_of_a_dict_output_trains_evaluates_and_predicts():
    student, teacher = pair()
    wrapped = dict_output(student)
    rewrapped = keras.Model(wrapped.inputs, wrapped.output["class_logits"])
    x, y = data()
    d = kd_fit(rewrapped, teacher, x, y, validation_data=(x, y))
    assert np.all(np.isfinite(d.evaluate(x, y, verbose=0)))
    assert d.predict(x, verbose=0).shape == (N, 3)


def test_two_output_teacher_refused_with_the_rewrap_that_picks_the_logits():
    student, teacher = pair()
    two = keras.Model(teacher.inputs, [teacher.output, teacher.get_layer("pool").output])
    assert_refused(
        lambda: distillers.KD(student=student, teacher=two),
        ValueError,
        "teacher",
        re.escape("keras.Model(teacher.inputs, teacher.outputs[i])") + r".*\[0, 1\]",
        models=[student, two],
    )
    x, y = data()
    kd_fit(student, keras.Model(two.inputs, two.outputs[0]), x, y)  # the rewrap works


@pytest.mark.parametrize(
    "one_hot, expected",
    [(False, r"2 inf and no NaN \(first at sample 1\)"), (True, r"1 inf and 1 NaN")],
)
def test_inf_in_numpy_labels_is_reported_as_inf(one_hot, expected, tmp_path):
    """Labels with inf but no NaN used to be refused as "y with NaN"."""
    student, teacher = pair()
    x, y = data()
    y = np.eye(3, dtype="float32")[y] if one_hot else y.astype("float32")
    if one_hot:
        y[2, 0], y[5, 1] = np.inf, np.nan
    else:
        y[1], y[6] = np.inf, -np.inf
    d = compiled_kd(False, student, teacher)
    refused_fit(d, [student, teacher], tmp_path, ValueError, "y", expected, x=x, y=y)


def tabular_mlp(name, features=6, hidden=8, num_classes=3):
    inputs = keras.Input((features,), name="features")
    x = keras.layers.Dense(hidden, activation="relu", name="hidden")(inputs)
    x = keras.layers.Dense(hidden, activation="relu", name="hidden2")(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, name="logits")(x), name=name)


def tabular_data(n=N, features=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    return x, rng.integers(0, 3, n).astype("int32")


def test_one_on_an_mlp_cut_at_a_dense_layer():
    """The gate used to pool the cut feature in 2-D, a raw Keras ndim error on
    a vector; a vector now goes straight into the gate's dense layer."""
    keras.utils.set_random_seed(0)
    model = tabular_mlp("mlp")
    x, y = tabular_data()
    one = distillers.ONE(model, cut_layer="hidden", branches=2)
    one.compile(optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"])
    trained = [model, *one.branch_heads[1:], one.gate]
    before = [snapshot(m) for m in trained]
    history = one.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    for m, b in zip(trained, before, strict=True):
        assert changed(b, snapshot(m)), m.name
    assert {"branch_task_loss", "kd_loss", "ensemble_accuracy"} <= set(history.history)
    assert np.all(np.isfinite(history.history["loss"]))
    assert one.student.predict(x, verbose=0).shape == (N, 3)


def test_one_cut_at_a_5d_volume_is_refused_naming_cut_layer():
    inputs = keras.Input((2, 4, 4, 1))
    x = keras.layers.Conv3D(2, 1, name="volume")(inputs)
    x = keras.layers.GlobalAveragePooling3D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    assert_refused(
        lambda: distillers.ONE(model, cut_layer="volume", branches=2),
        ValueError,
        "cut_layer",
        r"vector.*sequence.*feature map.*cut_layer='volume' with output shape",
        models=[model],
    )


def conv1d_audio(name, width=4, steps=32, num_classes=3):
    """A keyword-spotting style Conv1D model on (steps, 1) waveforms."""
    inputs = keras.Input((steps, 1), name="audio")
    x = keras.layers.Conv1D(width, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv1D(2 * width, 3, strides=2, padding="same", name="conv2")(x)
    x = keras.layers.ReLU(name="block2")(x)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, name="logits")(x), name=name)


def audio_data(n=N, steps=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, steps, 1)).astype("float32")
    return x, rng.integers(0, 3, n).astype("int32")


@pytest.mark.parametrize("student_layer", ["block2", "conv1"])  # same steps; twice the steps
def test_fitnet_on_conv1d_audio_maps(student_layer):
    """Rank-3 maps used to be refused by the connector; the regressor is now a
    (strided) Conv1D."""
    keras.utils.set_random_seed(0)
    student, teacher = conv1d_audio("student", 4), conv1d_audio("teacher", 8)
    x, y = audio_data()
    d = distillers.FitNet(
        student, teacher, student_layers=[student_layer], teacher_layers=["block2"]
    )
    d.compile(optimizer=keras.optimizers.Adam(1e-2))
    assert isinstance(d.adapters[0].get_layer("regressor_0_conv"), keras.layers.Conv1D)
    assert_distilled(
        lambda: d.fit(x, y, batch_size=BATCH, epochs=1, verbose=0),
        [student],
        [teacher],
        ["hint_loss"],
    )


def test_fitnet_pairing_a_sequence_with_a_vector_names_the_argument_and_fitnet():
    student, teacher = conv1d_audio("student", 4), conv1d_audio("teacher", 8)
    assert_refused(
        lambda: distillers.FitNet(
            student, teacher, student_layers=["block2"], teacher_layers=["pool"]
        ),
        ValueError,
        ("student_layers", "teacher_layers"),
        r"FitNet.*Conv1D.*'block2' of shape \(None, 16, 8\).*'pool' of shape \(None, 16\)",
        models=[student, teacher],
    )


VOCAB, STEPS = 40, 10


def token_model(name, width, rnn=keras.layers.LSTM, num_classes=3):
    """A text classifier on zero-padded integer tokens (``mask_zero=True``)."""
    tokens = keras.Input((STEPS,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(VOCAB, width, mask_zero=True, name="embedding")(tokens)
    x = rnn(width, name="rnn")(x)
    return keras.Model(tokens, keras.layers.Dense(num_classes, name="logits")(x), name=name)


def token_data(n=N, seed=0):
    """Token ids in [1, VOCAB), each sequence padded with zeros after its length."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCAB, (n, STEPS)).astype("int32")
    lengths = rng.integers(3, STEPS + 1, n)
    x[np.arange(STEPS)[None, :] >= lengths[:, None]] = 0
    return x, rng.integers(0, 3, n).astype("int32")


def token_pair():
    keras.utils.set_random_seed(0)
    student = token_model("token_student", 8, keras.layers.LSTM)
    return student, token_model("token_teacher", 16, keras.layers.GRU)


def test_masked_lstm_token_student_from_a_gru_teacher_on_numpy_arrays():
    student, teacher = token_pair()
    x, y = token_data()
    d = kd_fit(student, teacher, x, y, validation_data=(x, y))
    assert d.predict(x, verbose=0).shape == (N, 3)
    # The mask reaches the LSTM: padding before or after the tokens gives the same logits.
    post = np.array([[5, 7, 9] + [0] * (STEPS - 3)], "int32")
    pre = np.array([[0] * (STEPS - 3) + [5, 7, 9]], "int32")
    np.testing.assert_allclose(
        d.predict(post, verbose=0), d.predict(pre, verbose=0), rtol=1e-5, atol=1e-6
    )


def test_masked_token_student_on_a_tf_data_dict_dataset_keyed_tokens():
    student, teacher = token_pair()
    x, y = token_data()
    ds = tf.data.Dataset.from_tensor_slices(({"tokens": x}, y)).batch(BATCH)
    kd_fit(student, teacher, ds, validation_data=ds)


def test_gru_student_on_float_sequences():
    keras.utils.set_random_seed(0)

    def recurrent(name, width, rnn):
        inputs = keras.Input((STEPS, 3), name="sensors")
        x = rnn(width, name="rnn")(inputs)
        return keras.Model(inputs, keras.layers.Dense(3, name="logits")(x), name=name)

    student = recurrent("gru_student", 4, keras.layers.GRU)
    teacher = recurrent("lstm_teacher", 12, keras.layers.LSTM)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, STEPS, 3)).astype("float32")
    kd_fit(student, teacher, x, rng.integers(0, 3, N).astype("int32"))


def test_model_checkpoint_save_best_only_on_a_token_kd_distiller(tmp_path):
    student, teacher = token_pair()
    x, y = token_data()
    path = tmp_path / "best.keras"
    checkpoint = keras.callbacks.ModelCheckpoint(str(path), monitor="val_loss", save_best_only=True)
    d = kd_fit(student, teacher, x, y, validation_data=(x, y), callbacks=[checkpoint])
    assert path.exists()
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.student.predict(x, verbose=0), d.student.predict(x, verbose=0), atol=1e-6
    )


def test_one_on_a_conv1d_model_cut_at_a_sequence_map():
    keras.utils.set_random_seed(0)
    model = conv1d_audio("audio_one", 4)
    x, y = audio_data()
    one = distillers.ONE(model, cut_layer="block2", branches=2)
    one.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = snapshot(one.gate)
    history = one.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    assert changed(before, snapshot(one.gate))
    assert np.all(np.isfinite(history.history["loss"]))


# ==========================================================================
# Issue 27 (points 1-2): exporting token and recurrent students to TFLite
# ==========================================================================


def bag_of_tokens(name, width=8, num_classes=3):
    """Embedding + average pooling on integer tokens: no recurrent layer."""
    tokens = keras.Input((STEPS,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(VOCAB, width, name="embedding")(tokens)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    return keras.Model(tokens, keras.layers.Dense(num_classes, name="logits")(x), name=name)


def file_input_dtype(path):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path)).get_input_details()[0]["dtype"]


def test_kd_token_student_exports_int8_with_its_int32_token_ids(tmp_path):
    # It used to write an int8 token input (scale 0.19) agreeing with Keras on 58-77%.
    keras.utils.set_random_seed(0)
    student, teacher = bag_of_tokens("bag_student"), token_model("token_teacher", 16)
    x, y = token_data()
    d = kd_fit(student, teacher, x, y)
    calibration, _ = token_data(64, seed=1)
    check = token_data(64, seed=2)
    path = tmp_path / "student.tflite"
    report = to_tflite(
        d.student, path, quantization="int8", representative_data=calibration, check_data=check
    )
    assert file_input_dtype(path) == np.int32 and report.input_quantization == [None]
    assert report.litert_agreement >= 0.9
    assert "SELECT" in report.micro_unsupported_ops  # from Embedding: no Micro kernel, named


def test_kd_lstm_token_student_int8_is_refused_and_float16_exports(tmp_path):
    # int8 used to kill the process (segmentation fault in TensorFlow's calibrator).
    student, teacher = token_pair()
    x, y = token_data()
    d = kd_fit(student, teacher, x, y)
    path = tmp_path / "student.tflite"
    assert_refused(
        lambda: to_tflite(d.student, path, quantization="int8", representative_data=x),
        ValueError,
        ("quantization",),
        r"rnn \(LSTM\).*segmentation fault.*'float16'.*'dynamic'.*unroll=True",
        models=[d.student],
        directory=tmp_path,
    )
    report = to_tflite(d.student, path, quantization="float16", check_data=(x, y))
    assert file_input_dtype(path) == np.int32 and report.litert_agreement == 1.0
