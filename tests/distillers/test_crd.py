"""CRD on a tiny CNN pair: the memory banks train, save, reload, and stay put on a refused step."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_kd import data, distillers
from keras_kd.errors import NonFiniteLossError
from tests.helpers import assert_same, changed, snapshot, tiny_data, tiny_pair

N = 32


def make_crd(**kwargs):
    student, teacher = tiny_pair()
    crd = distillers.CRD(student, teacher, ["pool"], ["pool"], num_samples=N, num_negatives=8)
    crd.compile(optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"], **kwargs)
    return crd


def indexed(x, y, index=None):
    index = np.arange(len(x), dtype="int32") if index is None else index
    return tf.data.Dataset.from_tensor_slices(({"x": x, "sample_index": index}, y)).batch(16)


def memory_state(crd):
    return [v.numpy() for v in crd.memory.variables if "seed" not in v.path]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    crd = make_crd()
    x, y = tiny_data(N)
    initial = memory_state(crd)
    teacher_before, student_before = snapshot(crd.teacher), snapshot(crd.student)
    history = crd.fit(indexed(x, y), epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("crd") / "crd.keras"
    crd.save(path)
    return crd, x, y, initial, teacher_before, student_before, history, path


def test_fit_trains_student_embeddings_and_memory_only(fitted):
    crd, x, y, initial, teacher_before, student_before, history, _ = fitted
    assert {"task_loss", "crd_loss", "loss"} <= set(history.history)
    assert np.isfinite(history.history["crd_loss"][-1])
    assert_same(teacher_before, snapshot(crd.teacher))
    assert changed(student_before, snapshot(crd.student))
    assert len(crd.adapters) == 2 and crd.deployable is crd.student
    student_memory, teacher_memory, normalizers = memory_state(crd)
    for bank, before in ((student_memory, initial[0]), (teacher_memory, initial[1])):
        assert (bank != before).any(axis=1).all()  # every sample's row was updated once
        np.testing.assert_allclose(np.linalg.norm(bank, axis=1), 1.0, rtol=1e-5)
    assert np.all(initial[2] == -1.0) and np.all(normalizers > 0)  # Z set on the first step
    assert crd.memory.student_memory.shape == (N, 128) and not crd.memory.trainable_weights
    # Validation data need no indices.
    assert crd.evaluate(x, y, verbose=0, return_dict=True)["task_loss"] > 0


def test_save_and_load_keep_the_memory_banks(fitted):
    crd, *_, path = fitted
    loaded = keras.saving.load_model(path)
    assert type(loaded) is distillers.CRD and loaded.num_negatives == 8
    assert_same(memory_state(crd), memory_state(loaded))
    for adapter, loaded_adapter in zip(crd.adapters, loaded.adapters, strict=True):
        assert_same(snapshot(adapter), snapshot(loaded_adapter))


def test_a_refused_step_leaves_the_memory_unchanged(fitted):
    crd, x, y, *_ = fitted
    before, student_before = memory_state(crd), snapshot(crd.student)
    adapters_before = [snapshot(a) for a in crd.adapters]
    slots_before = [v.numpy().copy() for v in crd.optimizer.variables]
    bad_index = np.arange(N, dtype="int32")
    bad_index[5] = N
    with pytest.raises(ValueError, match=r"in \[0, 32\).*from 0 to 32.*Nothing was updated"):
        crd.fit(indexed(x, y, bad_index), epochs=1, verbose=0)
    assert_same(before, memory_state(crd))
    nan_x = x.copy()
    nan_x[2, 3, 3, 0] = np.nan
    with pytest.raises(NonFiniteLossError, match="`x` must hold finite numbers"):
        crd.fit(indexed(nan_x, y), epochs=1, verbose=0)
    assert_same(before, memory_state(crd))
    assert_same(student_before, snapshot(crd.student))
    for adapter, adapter_before in zip(crd.adapters, adapters_before, strict=True):
        assert_same(adapter_before, snapshot(adapter))
    assert_same(slots_before, [v.numpy() for v in crd.optimizer.variables])


def test_data_without_indices_and_bad_arguments_are_refused():
    crd = make_crd()
    x, y = tiny_data(8)
    with pytest.raises(ValueError, match="with_sample_index.*Received: x of type ndarray"):
        crd.fit(x, y, verbose=0)
    plain = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    with pytest.raises(ValueError, match="with_sample_index.*Received: a dataset"):
        crd.fit(plain, verbose=0)
    with pytest.raises(ValueError, match=r"in \[0, 32\).*Received: indices from -1 to 6"):
        crd.fit({"x": x, "sample_index": np.arange(8) - 1}, y, verbose=0)
    student, teacher = tiny_pair()
    with pytest.raises(ValueError, match="num_negatives=32, num_samples=32"):
        distillers.CRD(student, teacher, ["pool"], ["pool"], num_samples=32, num_negatives=32)
    with pytest.raises(ValueError, match="memory_momentum=1"):
        distillers.CRD(
            student, teacher, ["pool"], ["pool"], num_samples=32, num_negatives=8, memory_momentum=1
        )
    with pytest.raises(ValueError, match="Received: num_samples=None"):
        distillers.CRDTerm(0.8, ["pool"], ["pool"])
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        with pytest.raises(ValueError, match="Received: a distiller created under OneDevice"):
            distillers.CRD(student, teacher, ["pool"], ["pool"], 64, num_negatives=8)


def test_with_sample_index_layout_and_augmentation():
    x, y = tiny_data(4)
    ds = data.with_sample_index(tf.data.Dataset.from_tensor_slices((x, y)))
    (first, label), *_ = ds.as_numpy_iterator()
    assert first["sample_index"] == 0 and label == y[0]
    np.testing.assert_array_equal(first["x"], x[0])
    batch, _ = next(iter(data.batch_for_training(ds, 4, augment=True)))
    assert sorted(batch["sample_index"].numpy()) == [0, 1, 2, 3]
    assert batch["x"].shape == (4, *x.shape[1:])
    with pytest.raises(ValueError, match="already carries sample indices"):
        data.with_sample_index(ds)
    with pytest.raises(ValueError, match=r"\(x, y\) or \(x, y, sample_weight\) tuples"):
        data.with_sample_index(tf.data.Dataset.from_tensor_slices(x))
