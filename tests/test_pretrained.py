import json
import os

import keras
import pytest

import keras_kd

SHIPPED = os.path.join(os.path.dirname(keras_kd.__file__), "pretrained")


def test_shipped_teacher_loads_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="File not found"):
        # The README's former relative path worked only from the repository root.
        keras.saving.load_model("keras_kd/pretrained/cifar10-resnet20.keras")
    teacher = keras_kd.pretrained.load_teacher()
    with open(os.path.join(SHIPPED, "cifar10-resnet20.json")) as f:
        record = json.load(f)
    assert teacher.count_params() == record["parameters"]
    assert teacher.input_shape == (None, 32, 32, 3) and teacher.output_shape == (None, 10)


def test_unknown_teacher_name_lists_the_shipped_ones():
    assert keras_kd.pretrained.available_teachers() == ["cifar10-resnet20"]
    with pytest.raises(ValueError, match=r"\['cifar10-resnet20'\]. Received: name='imagenet'"):
        keras_kd.pretrained.load_teacher("imagenet")
