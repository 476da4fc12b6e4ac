"""What cannot be saved is refused before training, and a failed save never
truncates an existing file (issue: a function as `teacher_input` erased the
last good checkpoint)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_kd import distillers
from keras_kd.errors import LabelError
from tests.helpers import assert_same, snapshot, tiny_data, tiny_pair


def _function_teacher_input_distiller():
    student, teacher = tiny_pair()
    return distillers.KD(student, teacher, teacher_input=lambda x: tf.identity(x))


def test_a_failed_save_leaves_the_existing_file_as_it_was(tmp_path):
    path = tmp_path / "distiller.keras"
    path.write_bytes(b"the last good checkpoint")
    distiller = _function_teacher_input_distiller()
    with pytest.raises(ValueError, match="teacher_input"):
        distiller.save(path)
    assert path.read_bytes() == b"the last good checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["distiller.keras"]


def test_a_model_checkpoint_of_an_unsavable_distiller_is_refused_before_training(tmp_path):
    path = tmp_path / "best.keras"
    path.write_bytes(b"the last good checkpoint")
    distiller = _function_teacher_input_distiller()
    distiller.compile(optimizer="adam")
    before = snapshot(distiller.student)
    x, y = tiny_data(16)
    checkpoint = keras.callbacks.ModelCheckpoint(str(path))
    with pytest.raises(ValueError, match="`teacher_input` is a Python function cannot be saved"):
        distiller.fit(x, y, epochs=1, batch_size=8, callbacks=[checkpoint], verbose=0)
    assert path.read_bytes() == b"the last good checkpoint"
    assert_same(before, snapshot(distiller.student))
    assert int(distiller.optimizer.iterations.numpy()) == 0


def test_weights_only_checkpoints_of_such_a_distiller_still_train(tmp_path):
    distiller = _function_teacher_input_distiller()
    distiller.compile(optimizer="adam")
    x, y = tiny_data(16)
    path = tmp_path / "best.weights.h5"
    checkpoint = keras.callbacks.ModelCheckpoint(str(path), save_weights_only=True)
    distiller.fit(x, y, epochs=1, batch_size=8, callbacks=[checkpoint], verbose=0)
    assert path.stat().st_size > 0


def test_labels_with_inf_are_named_as_infinite_not_nan():
    student, teacher = tiny_pair()
    distiller = distillers.KD(student, teacher)
    distiller.compile(optimizer="adam")
    x, y = tiny_data(16)
    labels = np.eye(3, dtype="float32")[y]
    labels[3, 0] = np.inf
    before = snapshot(student)
    batches = tf.data.Dataset.from_tensor_slices((x, labels)).batch(8)
    with pytest.raises(LabelError, match=r"labels with 1 infinite value\(s\)") as raised:
        distiller.fit(batches, epochs=1, verbose=0)
    assert "NaN" not in str(raised.value).split("Received:")[1].split(".")[0]
    assert_same(before, snapshot(student))
