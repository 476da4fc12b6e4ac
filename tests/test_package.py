import importlib

import keras
import pytest

import keras_kd


def test_importing_under_another_backend_gives_a_clear_error(monkeypatch):
    # Keras 3.15's numpy backend needs JAX and no other backend is installed,
    # so the guard is exercised by making Keras report another backend.
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ImportError, match="TensorFlow backend.*Received: KERAS_BACKEND='jax'"):
        importlib.reload(keras_kd)
    monkeypatch.undo()
    importlib.reload(keras_kd)


def test_public_names_are_re_exported():
    for name in (
        "KD",
        "Distiller",
        "build_feature_extractor",
        "to_tflite",
        "cache_teacher_outputs",
    ):
        assert callable(getattr(keras_kd, name))
    for module in (
        "cache",
        "data",
        "distillers",
        "errors",
        "export",
        "features",
        "labels",
        "losses",
        "models",
        "pretrained",
        "quantization",
    ):
        assert hasattr(keras_kd, module)
        assert module in keras_kd.__all__
    assert callable(keras_kd.pretrained.load_teacher)
