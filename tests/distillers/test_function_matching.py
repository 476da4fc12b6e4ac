"""FunctionMatching: one view per step fed to both networks, its terms against
NumPy on that view, the view's randomness, the teacher-cache refusal, the guard
and bad arguments. The full recipe (fit, frozen teacher, save/load, TFLite) runs
in test_methods.py with the other methods."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_kd import distillers
from keras_kd.cache import cache_teacher_outputs
from keras_kd.data.views import partner_weight
from keras_kd.errors import NonFiniteLossError
from tests.helpers import IMAGE_SHAPE, NUM_CLASSES, assert_same, snapshot, tiny_data, tiny_pair

BATCH = 8


@pytest.fixture(scope="module")
def pair():
    """A (student, teacher) pair for tests that do not train it."""
    return tiny_pair()


class Record(keras.layers.Layer):
    """Passes its input through and keeps the last batch it saw."""

    def build(self, input_shape):
        self.seen = self.add_weight(
            shape=(BATCH, *input_shape[1:]), initializer="zeros", trainable=False
        )

    def call(self, x):
        self.seen.assign(x)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape


def recording_model(name):
    inputs = keras.Input(IMAGE_SHAPE)
    pooled = keras.layers.GlobalAveragePooling2D()(Record(name=f"{name}_record")(inputs))
    return keras.Model(inputs, keras.layers.Dense(NUM_CLASSES)(pooled), name=name)


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def test_teacher_and_student_take_the_same_view_in_a_step():
    keras.utils.set_random_seed(1)
    student, teacher = recording_model("student"), recording_model("teacher")
    fm = distillers.FunctionMatching(student, teacher)
    fm.compile(optimizer=keras.optimizers.SGD(0.01))
    x, y = tiny_data(BATCH)
    state = fm.view_seed.numpy()
    fm.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    seen_by_teacher = teacher.get_layer("teacher_record").seen.numpy()
    seen_by_student = student.get_layer("student_record").seen.numpy()
    np.testing.assert_array_equal(seen_by_teacher, seen_by_student)
    assert not np.allclose(seen_by_student, x)  # a view, not the batch itself
    fm.view_seed.assign(state)
    view, _, _ = fm.draw_view(tf.constant(x))  # the same draws again
    np.testing.assert_allclose(seen_by_student, view.numpy(), rtol=1e-6, atol=1e-4)


def test_the_view_compiles_with_xla(pair):
    fm = distillers.FunctionMatching(*pair)
    x = tf.constant(tiny_data(BATCH)[0])
    compiled = tf.function(fm.draw_view, jit_compile=True)
    state = fm.view_seed.numpy()
    view, partner, weight = compiled(x)
    fm.view_seed.assign(state)
    assert_same([view.numpy()], [compiled(x)[0].numpy()])
    assert 0.0 < float(weight) <= 0.5
    assert sorted(partner.numpy().tolist()) == list(range(BATCH))


def test_terms_equal_numpy_on_the_view_and_evaluation_uses_clean_inputs():
    student, teacher = tiny_pair()
    keras.utils.set_random_seed(2)
    fm = distillers.FunctionMatching(student, teacher, temperature=2.0, task_weight=0.5)
    fm.compile(optimizer=keras.optimizers.SGD(0.0))
    x, y = tiny_data(BATCH)
    state = fm.view_seed.numpy()
    logs = fm.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0).history
    fm.view_seed.assign(state)
    view, partner, weight = fm.draw_view(tf.constant(x))
    partner, weight = partner.numpy(), float(weight)
    assert 0.0 < weight <= 0.5
    t = teacher(view, training=False).numpy() / 2.0
    s = student(view, training=True).numpy()
    log_t, log_s = log_softmax(t), log_softmax(s / 2.0)
    kd = 4.0 * np.mean(np.sum(np.exp(log_t) * (log_t - log_s), axis=-1))
    one_hot = np.eye(NUM_CLASSES)[y]
    mixed = (1.0 - weight) * one_hot + weight * one_hot[partner]
    task = np.mean(-np.sum(mixed * log_softmax(s), axis=-1))
    assert logs["kd_loss"][0] == pytest.approx(kd, rel=1e-4)
    assert logs["task_loss"][0] == pytest.approx(task, rel=1e-4)
    assert logs["loss"][0] == pytest.approx(kd + 0.5 * task, rel=1e-4)
    clean = student(x, training=False).numpy()
    expected = np.mean(-log_softmax(clean)[np.arange(BATCH), y])
    evaluated = fm.evaluate(x, y, batch_size=BATCH, verbose=0, return_dict=True)
    assert evaluated["task_loss"] == pytest.approx(expected, rel=1e-4)


def test_mixup_takes_a_permutation_and_a_folded_beta_weight(pair):
    fm = distillers.FunctionMatching(*pair, mixup_alpha=0.4, crop_padding=0, flip=False)
    x = tiny_data(BATCH)[0]
    view, partner, weight = fm.draw_view(tf.constant(x))
    partner, weight = partner.numpy(), float(weight)
    assert 0.0 <= weight <= 0.5
    assert sorted(partner.tolist()) == list(range(BATCH))
    np.testing.assert_allclose(view, (1 - weight) * x + weight * x[partner], rtol=1e-5, atol=1e-3)
    drawn = partner_weight(0.4, tf.constant([0, 0]), shape=(2000,)).numpy()
    reference = np.random.default_rng(0).beta(0.4, 0.4, 200_000)
    reference = np.minimum(reference, 1.0 - reference)
    levels = [0.1, 0.25, 0.5, 0.75, 0.9]
    expected = np.quantile(reference, levels)
    np.testing.assert_allclose(np.quantile(drawn, levels), expected, atol=0.03)


def test_crop_and_flip_take_a_window_of_the_padded_image(pair):
    fm = distillers.FunctionMatching(*pair, mixup_alpha=0.0)
    x = tiny_data(16)[0]
    view, partner, weight = fm.draw_view(tf.constant(x))
    assert float(weight) == 0.0 and partner.numpy().tolist() == list(range(16))
    padded = np.pad(x, [(0, 0), (4, 4), (4, 4), (0, 0)])
    height, width = IMAGE_SHAPE[:2]
    found = []
    for image, source in zip(view.numpy(), padded, strict=True):
        windows = [
            (dy, dx, mirrored)
            for dy in range(9)
            for dx in range(9)
            for mirrored in (False, True)
            if np.array_equal(
                image,
                source[dy : dy + height, dx : dx + width][:, :: -1 if mirrored else 1],
            )
        ]
        assert len(windows) == 1
        found += windows
    assert len({w[:2] for w in found}) > 1 and {w[2] for w in found} == {False, True}


def test_views_are_deterministic_under_set_random_seed(pair):
    x = tf.constant(tiny_data(BATCH)[0])
    views = []
    for seed in (3, 3, 4):
        keras.utils.set_random_seed(seed)
        fm = distillers.FunctionMatching(*pair)
        views.append([fm.draw_view(x)[0].numpy() for _ in range(2)])
    assert_same(views[0], views[1])
    assert not np.array_equal(views[0][0], views[0][1])  # a new view at every step
    assert not np.array_equal(views[0][0], views[2][0])


def test_the_teacher_cache_is_refused():
    student, teacher = tiny_pair()
    fm = distillers.FunctionMatching(student, teacher)
    fm.compile(optimizer="adam")
    x, y = tiny_data(16)
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    with pytest.raises(ValueError, match=r"new random view.*distiller of type FunctionMatching"):
        cache_teacher_outputs(fm, dataset)
    cached = cache_teacher_outputs(distillers.KD(student, teacher), dataset).dataset.batch(8)
    before = snapshot(student)
    with pytest.raises(ValueError, match=r"not a teacher cache.*cache_teacher_outputs"):
        fm.fit(cached, epochs=1, verbose=0)
    assert_same(before, snapshot(student))


def test_a_view_with_nan_is_a_refused_step():
    student, teacher = tiny_pair()
    fm = distillers.FunctionMatching(
        student, teacher, augment=lambda batch: tf.where(batch > 250.0, np.nan, batch)
    )
    fm.compile(optimizer="adam")
    x, y = tiny_data(BATCH)
    student_before, teacher_before = snapshot(student), snapshot(teacher)
    with pytest.raises(NonFiniteLossError, match=r"`augment`.*training view with \d+ NaN"):
        fm.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    assert_same(student_before, snapshot(student))
    assert_same(teacher_before, snapshot(teacher))
    assert int(fm.optimizer.iterations.numpy()) == 0


def test_a_keras_layer_augment_is_saved_and_a_function_is_refused_on_save(pair):
    student, teacher = pair
    fm = distillers.FunctionMatching(student, teacher, augment=keras.layers.RandomFlip())
    rebuilt = distillers.FunctionMatching.from_config(fm.get_config())
    assert isinstance(rebuilt.augment, keras.layers.RandomFlip)
    assert (rebuilt._padding, rebuilt._flip) == (0, False)
    by_function = distillers.FunctionMatching(student, teacher, augment=lambda batch: batch)
    with pytest.raises(ValueError, match=r"`augment` is a Python function cannot be saved"):
        by_function.get_config()


def flat_model(name):
    inputs = keras.Input((5,))
    return keras.Model(inputs, keras.layers.Dense(NUM_CLASSES)(inputs), name=name)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"mixup_alpha": -1.0}, r"`mixup_alpha` must be.*Received: mixup_alpha=-1.0"),
        ({"mixup_alpha": "strong"}, r"Received: mixup_alpha='strong'"),
        ({"crop_padding": -1}, r"`crop_padding` must be.*Received: crop_padding=-1"),
        ({"crop_padding": 2.5}, r"Received: crop_padding=2.5"),
        ({"flip": "yes"}, r"`flip` must be True, False or None. Received: flip='yes'"),
        ({"augment": "crop"}, r"`augment` must be a Keras layer.*Received: augment='crop'"),
        (
            {"augment": lambda batch: batch, "crop_padding": 2},
            r"not both.*crop_padding=2, flip=None",
        ),
        (
            {"augment": lambda batch: batch[:, :8]},
            r"same shape.*maps \(2, 16, 16, 3\) to \(2, 8, 16, 3\)",
        ),
        ({"augment": lambda batch: batch.nope}, r"calling it failed: AttributeError"),
        ({"temperature": 0.0}, r"Received: temperature=0.0"),
        ({"kd_weight": -1.0}, r"Received: kd_weight=-1.0"),
    ],
)
def test_bad_arguments_are_refused(pair, kwargs, match):
    with pytest.raises(ValueError, match=match):
        distillers.FunctionMatching(*pair, **kwargs)


def test_crop_and_flip_need_an_image_input():
    student, teacher = flat_model("student"), flat_model("teacher")
    with pytest.raises(ValueError, match=r"one input of shape \(height, width, channels\).*\(5,\)"):
        distillers.FunctionMatching(student, teacher)
    fm = distillers.FunctionMatching(student, teacher, crop_padding=0, flip=False)
    assert fm.mixup_alpha == 1.0
