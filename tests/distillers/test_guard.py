"""The step guard: a faulty step changes nothing, in graph mode and under XLA,
for every scheme, and the error says what happened."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_kd import distillers
from keras_kd.distillers._step_checks import are_probabilities, data_checks, gradient_check
from keras_kd.errors import LabelError, NonFiniteLossError, ProbabilityOutputError
from tests.helpers import assert_same, snapshot, tiny_cnn, tiny_data, tiny_pair


def _state(distiller, models):
    return [s for m in models for s in snapshot(m)] + [
        v.numpy() for v in distiller.optimizer.variables
    ]


def _schemes():
    keras.utils.set_random_seed(0)
    return {
        "kd": lambda: distillers.KD(*tiny_pair(batch_norm=False)),
        "dml": lambda: distillers.DeepMutualLearning([tiny_cnn("a"), tiny_cnn("b")]),
        "one": lambda: distillers.ONE(tiny_cnn("m"), cut_layer="block1", branches=2),
        "byot": lambda: distillers.BYOT(tiny_cnn("m"), exit_layers=["block1"], deep_layer="block2"),
    }


def _trained(distiller):
    if isinstance(distiller, distillers.Distiller):
        return [distiller.student, *distiller.adapters]
    return distiller.trained_models()


@pytest.mark.parametrize(
    "scheme,jit_compile",
    [
        ("kd", False),
        ("kd", True),
        ("dml", False),
        pytest.param("one", True, marks=pytest.mark.slow),  # XLA: 11 s; KD's stays
        ("byot", False),
    ],
)
def test_a_nan_pixel_changes_no_weight_statistic_or_slot(scheme, jit_compile):
    distiller = _schemes()[scheme]()
    distiller.compile(optimizer="adam", jit_compile=jit_compile)
    x, y = tiny_data(16)
    distiller.fit(x[8:], y[8:], epochs=1, batch_size=8, verbose=0)  # slots are non-zero now
    x[3, 5, 5, 1] = np.nan
    before = _state(distiller, _trained(distiller))
    step = int(distiller.optimizer.iterations.numpy())
    with pytest.raises(
        NonFiniteLossError,
        match=f"`x` must hold finite numbers. Received: at training batch 0 \\(optimizer step "
        f"{step}\\), a batch with 1 NaN.*Nothing was updated",
    ):
        distiller.fit(_batches(x[:8], y[:8]), epochs=1, verbose=0)
    assert_same(before, _state(distiller, _trained(distiller)))


def _batches(x, y, batch_size=8):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def test_nan_or_inf_in_numpy_inputs_is_refused_before_training():
    student, teacher = tiny_pair()
    d = distillers.KD(student, teacher)
    d.compile(optimizer="adam")
    x, y = tiny_data(16)
    x[13, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="`x` must hold finite numbers.*e.g. index 13"):
        d.fit(x, y, epochs=1, verbose=0)
    weights = np.ones(16)
    weights[2] = np.nan
    with pytest.raises(ValueError, match="`sample_weight` must hold finite.*1 NaN or inf"):
        d.fit(x[:8], y[:8], sample_weight=weights[:8], epochs=1, verbose=0)
    assert int(d.optimizer.iterations.numpy()) == 0


def test_the_one_pass_checks_tell_an_overflowing_sum_from_a_non_finite_value():
    huge = tf.constant([3e38, 3e38])  # finite values whose sum overflows
    fault, detail = data_checks([huge, tf.constant([1.0, np.nan, np.inf])], None)[0][::2]
    assert bool(fault) and detail.numpy().tolist() == [2.0, 0.0]
    fault, _, _ = data_checks(huge, None)[0]
    assert not bool(fault)
    grads = [None, huge, tf.constant([[0.0, np.inf]]), tf.constant([np.nan])]
    fault, _, detail = gradient_check(grads)
    assert bool(fault) and detail.numpy().tolist() == [2.0, 0.0]  # the first bad one
    fault, _, _ = gradient_check([None, huge, tf.constant([1.0])])
    assert not bool(fault)
    sparse = tf.IndexedSlices(tf.constant([[np.nan]]), tf.constant([0]), tf.constant([4, 1]))
    fault, _, detail = gradient_check([tf.constant([1.0]), sparse])
    assert bool(fault) and detail.numpy().tolist() == [1.0, 0.0]


class SquareRoot(keras.layers.Layer):
    """sqrt(max(x, 0)): finite at 0, with an infinite derivative there."""

    def call(self, x):
        return keras.ops.sqrt(keras.ops.maximum(x, 0.0))


def test_a_finite_loss_with_a_non_finite_gradient_is_caught_and_named():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(SquareRoot()(x))
    student = keras.Model(inputs, keras.layers.Dense(3, name="logits")(x))
    teacher = tiny_cnn("teacher", 8)
    d = distillers.KD(student, teacher)
    d.compile(optimizer="sgd")
    x, y = np.zeros((8, 16, 16, 3), "float32"), np.zeros(8, "int32")  # conv output 0
    before = _state(d, [student])
    with pytest.raises(NonFiniteLossError, match="the gradient of conv/kernel is NaN"):
        d.fit(x, y, epochs=1, verbose=0)
    assert_same(before, _state(d, [student]))


def test_batchnorm_statistics_written_by_the_faulty_forward_pass_are_restored():
    student, teacher = tiny_pair()  # with BatchNorm
    d = distillers.KD(student, teacher)
    d.compile(optimizer="sgd")
    x, y = tiny_data(8)
    x[0, 0, 0, 0] = np.nan
    moving = [v.numpy() for v in student.non_trainable_variables]
    with pytest.raises(NonFiniteLossError):
        d.fit(_batches(x, y), epochs=1, verbose=0)
    assert_same(moving, [v.numpy() for v in student.non_trainable_variables])


def test_later_steps_of_one_execution_are_skipped_too():
    student, teacher = tiny_pair()
    d = distillers.KD(student, teacher)
    d.compile(optimizer="sgd", steps_per_execution=4)
    x, y = tiny_data(32)
    x[8, 0, 0, 0] = np.nan  # batch 1 of 4 inside one execution
    # The batch that held the NaN is named, not the last of its execution (3).
    with pytest.raises(NonFiniteLossError, match="training batch 1 "):
        d.fit(_batches(x, y), epochs=1, verbose=0)
    assert int(d.optimizer.iterations.numpy()) == 1  # batch 0 only


@pytest.mark.parametrize("where", ["label", "sample_weight"])
def test_nan_label_or_sample_weight_changes_nothing_and_says_so(where):
    student, teacher = tiny_pair()
    d = distillers.KD(student, teacher)
    d.compile(optimizer="adam")
    x, y = tiny_data(8)
    y = y.astype("float32")
    weights = np.ones(8, "float32")
    if where == "label":
        y[2] = np.nan
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
        error = LabelError
    else:
        weights[2] = np.nan
        ds = tf.data.Dataset.from_tensor_slices((x, y, weights)).batch(8)
        error = NonFiniteLossError
    before = _state(d, [student])
    with pytest.raises(error, match="Nothing was updated"):
        d.fit(ds, epochs=1, verbose=0)
    assert_same(before, _state(d, [student]))
    assert int(d.optimizer.iterations.numpy()) == 0


def test_nan_in_validation_data_is_reported_not_averaged():
    student, teacher = tiny_pair()
    d = distillers.KD(student, teacher)
    d.compile(optimizer="sgd", metrics=["accuracy"])
    x, y = tiny_data(16)
    xv = x[:8].copy()
    xv[1, 2, 2, 0] = np.nan
    before = _state(d, [student])
    with pytest.raises(ValueError, match="`validation_data` is refused: `x` must hold finite"):
        d.fit(x, y, epochs=1, batch_size=8, validation_data=(xv, y[:8]), verbose=0)
    assert_same(before, _state(d, [student]))  # refused before the first epoch
    validation = tf.data.Dataset.from_tensor_slices((xv, y[:8])).batch(8)
    with pytest.raises(
        NonFiniteLossError, match="`validation_data` must hold finite.*validation batch 0"
    ):
        d.fit(x, y, epochs=1, batch_size=8, validation_data=validation, verbose=0)
    with pytest.raises(NonFiniteLossError, match="`x` must hold finite.*validation batch 0"):
        d.evaluate(xv, y[:8], verbose=0)


class HandMadeSoftmax(keras.layers.Layer):
    """A softmax the construction-time check cannot see."""

    def call(self, x):
        e = keras.ops.exp(x - keras.ops.max(x, axis=-1, keepdims=True))
        return e / keras.ops.sum(e, axis=-1, keepdims=True)


def test_probabilities_are_refused_at_the_first_batch_whatever_computes_them():
    student, teacher = tiny_pair()
    probs = keras.Model(teacher.inputs, HandMadeSoftmax()(teacher.output))
    d = distillers.KD(student, probs)
    d.compile(optimizer="sgd")
    x, y = tiny_data(8)
    before = _state(d, [student])
    with pytest.raises(ProbabilityOutputError, match="`teacher` must output logits.*sums to 1"):
        d.fit(x, y, epochs=1, verbose=0)
    assert_same(before, _state(d, [student]))


def test_a_probability_map_is_judged_on_the_first_samples_positions():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 3, 3, 5)).astype("float32")
    probabilities = tf.nn.softmax(logits).numpy()
    assert bool(are_probabilities(tf.constant(probabilities)))
    assert not bool(are_probabilities(tf.constant(logits)))
    first_logits = probabilities.copy()
    first_logits[0, 2, 1] = logits[0, 2, 1]
    assert not bool(are_probabilities(tf.constant(first_logits)))
    assert bool(are_probabilities(tf.fill((4, 3, 3, 5), 0.2)))
    assert not bool(are_probabilities(tf.constant(probabilities[..., :1])))


def test_a_segmenter_teacher_outputting_probabilities_is_refused_at_the_first_batch():
    inputs = keras.Input((6, 6, 3))
    student = keras.Model(inputs, keras.layers.Conv2D(4, 1)(inputs))
    hidden = keras.Input((6, 6, 3))
    teacher = keras.Model(hidden, HandMadeSoftmax()(keras.layers.Conv2D(4, 1)(hidden)))
    d = distillers.KD(student, teacher)
    d.compile(optimizer="sgd")
    x = np.random.default_rng(0).random((8, 6, 6, 3)).astype("float32")
    y = np.random.default_rng(1).integers(0, 4, (8, 6, 6))
    before = _state(d, [student])
    with pytest.raises(ProbabilityOutputError, match="`teacher` must output logits"):
        d.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert_same(before, _state(d, [student]))


@pytest.mark.parametrize(
    "make",
    [
        lambda out: keras.ops.softmax(out),
        lambda out: keras.layers.Identity()(keras.layers.Softmax()(out)),
        lambda out: keras.layers.Activation("sigmoid")(out),
        lambda out: keras.layers.Dropout(0.1)(keras.layers.Activation("softmax")(out)),
    ],
)
def test_softmax_however_written_is_refused_at_construction(make):
    student, teacher = tiny_pair()
    probs = keras.Model(teacher.inputs, make(teacher.output))
    with pytest.raises(ValueError, match="`teacher` must output logits.*Received: teacher="):
        distillers.KD(student, probs)


def test_a_dataset_whose_images_change_size_is_stopped_at_that_batch():
    student, teacher = tiny_pair()
    d = distillers.KD(student, teacher)
    d.compile(optimizer="sgd")
    x, y = tiny_data(8)
    bigger = np.zeros((4, 20, 20, 3), "float32")

    def batches():
        yield x[:4], y[:4]
        yield bigger, y[4:]

    spec = (tf.TensorSpec((None, None, None, 3), tf.float32), tf.TensorSpec((None,), tf.int32))
    ds = tf.data.Dataset.from_generator(batches, output_signature=spec)
    with pytest.raises(ValueError, match="Received: at training batch 1.*height 20 and width 20"):
        d.fit(ds, epochs=1, verbose=0)
    assert int(d.optimizer.iterations.numpy()) == 1
