"""Distillers saved by keras_kd 0.2 load with the current code: same
predictions, and every saved argument with the same value when saved again."""

import json
import pathlib
import zipfile

import keras
import numpy as np
import pytest

from tests.saved_0_2.make_saved import NAMES

HERE = pathlib.Path(__file__).resolve().parent / "saved_0_2"
MODEL_KEYS = {"student", "teacher", "peers", "model", "terms", "teacher_input", "dtype"}


def saved_config(name):
    with zipfile.ZipFile(HERE / f"{name}.keras") as archive:
        return json.loads(archive.read("config.json"))["config"]


def plain(config):
    """The arguments that are not nested Keras objects."""
    return {k: v for k, v in config.items() if k not in MODEL_KEYS}


@pytest.mark.parametrize("name", NAMES)
def test_a_distiller_saved_by_0_2_loads_with_its_predictions(name):
    x = np.load(HERE / "inputs.npy")
    expected = json.loads((HERE / "predictions.json").read_text())[name]
    loaded = keras.saving.load_model(HERE / f"{name}.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(loaded)["config"]))
    saved = saved_config(name)
    assert set(saved) <= set(config)  # arguments left at their defaults may be added
    assert {k: config[k] for k in plain(saved)} == plain(saved)
