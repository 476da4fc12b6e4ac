"""MLKD: its levels against NumPy and their invariants, the distiller's terms
and views, its refusals (values against the authors' code:
tests/losses/test_reference_values.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_kd.cache import cache_teacher_outputs
from keras_kd.distillers import MLKD, MLKDTerm
from keras_kd.distillers.mlkd import (
    STRONG_KEY,
    batch_correlation_loss,
    class_correlation_loss,
    default_strong_augment,
    level_scale,
    mlkd_loss,
)
from keras_kd.features import OUTPUT_KEY
from keras_kd.labels import task_loss_per_sample
from tests.helpers import assert_same, snapshot, tiny_cnn, tiny_data, tiny_pair
from tests.reference import reference_inputs, reference_value

TEMPERATURES = (4.0, 3.0, 5.0, 2.0, 6.0)


def softmax(z, t):
    e = np.exp((z - z.max(axis=1, keepdims=True)) / t)
    return e / e.sum(axis=1, keepdims=True)


def numpy_kd(t, s, temperature):
    p_t, p_s = softmax(t, temperature), softmax(s, temperature)
    return temperature**2 * np.mean(np.sum(p_t * (np.log(p_t) - np.log(p_s)), axis=1))


def numpy_levels(tw, sw, ts, ss, temperature):
    """The three levels as the method's formula writes them, in float64."""
    temps = (temperature, 3.0, 5.0, 2.0, 6.0)
    tw, sw, ts, ss = (a.astype(np.float64) for a in (tw, sw, ts, ss))
    p = softmax(tw, 1.0)
    confidence, class_mass = p.max(axis=1), p.sum(axis=0)
    m = np.mean(confidence <= np.percentile(confidence, 50))
    m_c = np.mean(class_mass <= np.percentile(class_mass, 50))
    instance = m * sum(numpy_kd(tw, sw, t) for t in temps)
    instance += sum(numpy_kd(ts, ss, t) for t in temps[:3])
    instance += sum(numpy_kd(tw, sw, t) for t in temps[3:])
    cc = bc = 0.0
    for t in temps:
        a, b = softmax(tw, t), softmax(sw, t)
        cc += np.sum((a.T @ a - b.T @ b) ** 2) / a.shape[1]
        bc += np.sum((a @ a.T - b @ b.T) ** 2) / a.shape[0]
    return {"instance": instance, "class": m_c * cc, "batch": m * bc}


def views(batch, classes, seed):
    rng = np.random.default_rng(seed)
    return [(3 * rng.standard_normal((batch, classes))).astype("float32") for _ in range(4)]


@pytest.mark.parametrize(
    ("batch", "classes", "temperature"), [(8, 10, 4.0), (5, 3, 2.0), (6, 7, 1.0)]
)
def test_levels_match_numpy(batch, classes, temperature):
    logits = views(batch, classes, batch)
    expected = numpy_levels(*logits, temperature)
    for level, value in expected.items():
        got = float(mlkd_loss(*logits, level, temperature))
        np.testing.assert_allclose(got, value, rtol=1e-5, err_msg=level)


def test_every_level_is_zero_when_the_student_equals_the_teacher_on_both_views():
    tw, _, ts, _ = views(8, 10, 1)
    for level in ("instance", "class", "batch"):
        assert float(mlkd_loss(tw, tw, ts, ts, level)) == pytest.approx(0.0, abs=1e-5)


def test_correlation_levels_ignore_a_permutation_of_the_batch_or_of_the_classes():
    t, s = views(6, 5, 2)[:2]
    rows, cols = np.random.default_rng(0).permutation(6), np.random.default_rng(1).permutation(5)
    for loss in (class_correlation_loss, batch_correlation_loss):
        base = float(loss(t, s, 4.0))
        assert float(loss(t[rows], s[rows], 4.0)) == pytest.approx(base, rel=1e-5)
        assert float(loss(t[:, cols], s[:, cols], 4.0)) == pytest.approx(base, rel=1e-5)


def test_the_masks_are_shares_of_the_batch_at_most_the_median():
    # Distinct confidences: the median splits an even batch in two (share 1/2),
    # so the batch level is half the unmasked sum.
    tw, sw, ts, ss = views(8, 10, 3)
    unmasked = sum(float(batch_correlation_loss(tw, sw, t)) for t in TEMPERATURES)
    assert float(mlkd_loss(tw, sw, ts, ss, "batch")) == pytest.approx(0.5 * unmasked, rel=1e-5)


def test_the_distiller_terms_are_the_levels_and_the_cross_entropy_of_both_views():
    name = "mlkd_t4"
    x = reference_inputs(name)
    keras.utils.set_random_seed(0)
    mlkd = MLKD(
        tiny_cnn("student", num_classes=10),
        tiny_cnn("teacher", 8, num_classes=10),
        scale_reference=None,  # the authors' code at any shape
    )
    outputs = {
        "teacher": {OUTPUT_KEY: x["teacher_weak"], STRONG_KEY: x["teacher_strong"]},
        "student": {OUTPUT_KEY: x["student_weak"], STRONG_KEY: x["student_strong"]},
    }
    data = (tf.zeros((8, 16, 16, 3)), tf.constant(x["labels"]))
    batch = mlkd.read_batch(data, training=True)
    terms = mlkd.compute_terms(outputs, batch)
    assert mlkd.loss_weights == {
        "task": 0.1,
        "mlkd_instance": 0.9,
        "mlkd_class": 0.9,
        "mlkd_batch": 0.9,
        "task_strong": 0.1,
    }
    for level in ("instance", "class", "batch"):
        np.testing.assert_allclose(
            float(terms[f"mlkd_{level}"]), reference_value(name, level), rtol=2e-6
        )
    both = float(terms["task"]) + float(terms["task_strong"])
    np.testing.assert_allclose(both, reference_value(name, "task_both_views"), rtol=2e-6)
    weak_ce = tf.reduce_mean(task_loss_per_sample(x["labels"], x["student_weak"]))
    np.testing.assert_allclose(float(terms["task"]), float(weak_ce), rtol=1e-6)


def test_levels_are_scaled_to_their_size_at_the_authors_shape():
    assert level_scale("class", 64, 100) == level_scale("batch", 64, 100) == 1.0
    assert level_scale("class", 128, 10) == pytest.approx(0.5**2 * 0.1**3)
    assert level_scale("batch", 128, 10) == pytest.approx(0.5 * 0.1**2)
    assert level_scale("instance", 128, 10) == 1.0
    logits = views(8, 10, 4)
    outputs = [
        {OUTPUT_KEY: logits[0], STRONG_KEY: logits[2]},
        {OUTPUT_KEY: logits[1], STRONG_KEY: logits[3]},
    ]
    for level in ("instance", "class", "batch"):
        scaled = MLKDTerm(1.0, level, 4.0, scale_reference=(64, 100))(*outputs, None, None)
        plain = MLKDTerm(1.0, level, 4.0)(*outputs, None, None)
        expected = level_scale(level, 8, 10) * float(plain)
        assert float(scaled) == pytest.approx(expected, rel=1e-6), level
    # At the authors' shape the scaled term is theirs.
    logits = views(64, 100, 5)
    outputs = [
        {OUTPUT_KEY: logits[0], STRONG_KEY: logits[2]},
        {OUTPUT_KEY: logits[1], STRONG_KEY: logits[3]},
    ]
    scaled = MLKDTerm(1.0, "class", 4.0, scale_reference=(64, 100))(*outputs, None, None)
    assert float(scaled) == pytest.approx(float(mlkd_loss(*logits, "class")), rel=1e-6)


class Recorder(keras.layers.Layer):
    """A strong view that adds 1 and counts its calls (a variable, so it is saved)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False)

    def call(self, x, training=False):
        self.calls.assign_add(1.0)
        return x + 1.0


def test_each_step_draws_a_strong_view_with_the_given_layer_and_saves_it(tmp_path):
    student, teacher = tiny_pair()
    mlkd = MLKD(student, teacher, strong_augment=Recorder(name="recorder"))
    mlkd.compile(optimizer="adam", metrics=["accuracy"])
    x, y = tiny_data(32)
    teacher_before = snapshot(teacher)
    history = mlkd.fit(x, y, batch_size=8, epochs=1, verbose=0).history
    assert float(mlkd.strong_augment.calls.numpy()) >= 4
    assert {"task_strong_loss", "mlkd_class_loss", "accuracy"} <= history.keys()
    assert_same(teacher_before, snapshot(teacher))
    path = tmp_path / "mlkd.keras"
    mlkd.save(path)
    loaded = keras.saving.load_model(path, custom_objects={"Recorder": Recorder})
    assert isinstance(loaded.strong_augment, Recorder)


def test_the_teacher_cache_is_refused():
    student, teacher = tiny_pair()
    mlkd = MLKD(student, teacher)
    x, y = tiny_data(16)
    with pytest.raises(ValueError, match="MLKD"):
        cache_teacher_outputs(mlkd, tf.data.Dataset.from_tensor_slices((x, y)))


def test_bad_arguments_are_refused_naming_them():
    student, teacher = tiny_pair()
    with pytest.raises(ValueError, match="`strong_augment` must be a Keras layer"):
        MLKD(student, teacher, strong_augment=lambda x: x)
    with pytest.raises(ValueError, match="`level` must be one of"):
        MLKDTerm(1.0, level="pixel")
    with pytest.raises(ValueError, match="temperature"):
        MLKD(student, teacher, temperature=0.0)
    with pytest.raises(ValueError, match=r"`scale_reference` must be None or \(batch size"):
        MLKD(student, teacher, scale_reference=(64, 0))
    vector = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="one image input.*strong_augment"):
        MLKD(vector, keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)]))


def test_a_tabular_pair_trains_with_its_own_strong_view():
    keras.utils.set_random_seed(0)

    def mlp(width, name):
        inputs = keras.Input((6,))
        hidden = keras.layers.Dense(width, activation="relu")(inputs)
        return keras.Model(inputs, keras.layers.Dense(3)(hidden), name=name)

    student, teacher = mlp(4, "student"), mlp(16, "teacher")
    mlkd = MLKD(student, teacher, strong_augment=keras.layers.GaussianNoise(0.3))
    mlkd.compile(optimizer="adam")
    x = np.random.default_rng(0).standard_normal((32, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    before, teacher_before = snapshot(student), snapshot(teacher)
    history = mlkd.fit(x, y, batch_size=8, epochs=1, verbose=0).history
    assert all(np.isfinite(v[-1]) for v in history.values())
    assert any(not np.array_equal(a, b) for a, b in zip(before, snapshot(student), strict=True))
    assert_same(teacher_before, snapshot(teacher))


def test_the_default_strong_view_reads_an_image_given_as_a_dict():
    keras.utils.set_random_seed(0)

    def cnn(width, name):
        inputs = keras.Input((8, 8, 3), name="image")
        hidden = keras.layers.Conv2D(width, 3, activation="relu")(inputs)
        pooled = keras.layers.GlobalAveragePooling2D()(hidden)
        return keras.Model(inputs, keras.layers.Dense(3)(pooled), name=name)

    student, teacher = cnn(4, "student"), cnn(8, "teacher")
    mlkd = MLKD(student, teacher)
    mlkd.compile(optimizer="adam")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (16, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 3, 16)
    dataset = tf.data.Dataset.from_tensor_slices(({"image": x}, y)).batch(8)
    before = snapshot(student)
    history = mlkd.fit(dataset, epochs=1, verbose=0).history
    assert all(np.isfinite(v[-1]) for v in history.values())
    assert any(not np.array_equal(a, b) for a, b in zip(before, snapshot(student), strict=True))


def test_images_in_zero_one_under_the_default_strong_view_are_warned_about():
    student, teacher = tiny_pair()
    x, y = tiny_data(16)
    mlkd = MLKD(student, teacher)
    mlkd.compile(optimizer="adam")
    with pytest.warns(UserWarning, match=r"\[0, 1\].*default_strong_augment\(\(0, 1\)\)"):
        mlkd.fit(x / 255.0, y, batch_size=8, epochs=1, verbose=0)
    scaled = MLKD(*tiny_pair(), strong_augment=default_strong_augment((0, 1)))
    scaled.compile(optimizer="adam")
    scaled.fit(x / 255.0, y, batch_size=8, epochs=1, verbose=0)  # no warning (errors here)
    assert scaled.strong_augment.layers[0].value_range == (0, 1)


def test_a_strong_view_of_another_shape_is_refused_before_any_update():
    student, teacher = tiny_pair()
    mlkd = MLKD(student, teacher, strong_augment=keras.layers.Resizing(8, 8))
    mlkd.compile(optimizer="adam")
    x, y = tiny_data(16)
    before = snapshot(student)
    with pytest.raises(ValueError, match=r"`strong_augment` must return.*became \(.*8, 8, 3\)"):
        mlkd.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert_same(before, snapshot(student))
    assert int(mlkd.optimizer.iterations.numpy()) == 0
