"""keras_kd: knowledge distillation for Keras 3 on TensorFlow, down to TFLite.

The modules below (and with them Keras and TensorFlow) are imported on first
use of any of them, not by ``import keras_kd`` alone, so that the ``keras-kd``
command can parse its arguments and answer ``--help`` at once. A program that
has imported Keras before ``keras_kd`` (the usual, sorted order) gets every
module, and so every registered class for ``keras.saving.load_model``, at
``import keras_kd``, as before.
"""

import importlib
import sys

_MODULES = ("cache", "data", "distillers", "export", "features", "losses", "models", "quantization")
_EXPORTS = {
    "KD": "distillers",
    "Distiller": "distillers",
    "build_feature_extractor": "features",
    "cache_teacher_outputs": "cache",
    "to_tflite": "export",
}
_loading = []  # non-empty while `_import_all` runs (modules importing each other re-enter it)

__version__ = "0.1.0"


def _check_backend():
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ImportError(
            "keras_kd needs the TensorFlow backend of Keras 3 (its distillers use "
            "tf.GradientTape and TFLite export). Set KERAS_BACKEND=tensorflow before "
            f"importing keras. Received: KERAS_BACKEND={keras.backend.backend()!r}"
        )


def _import_all():
    """Imports every public module and binds the re-exported names."""
    if _loading:
        return
    _loading.append(True)
    try:
        _check_backend()
        namespace = globals()
        for name in _MODULES:
            namespace[name] = importlib.import_module(f"{__name__}.{name}")
        for name, module in _EXPORTS.items():
            namespace[name] = getattr(namespace[module], name)
    finally:
        _loading.clear()


def __getattr__(name):
    if name in _MODULES:
        _import_all()
        return importlib.import_module(f"{__name__}.{name}")
    if name in _EXPORTS:
        _import_all()
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_MODULES, *_EXPORTS})


if "keras" in sys.modules:
    _import_all()

__all__ = [
    "KD",
    "Distiller",
    "build_feature_extractor",
    "cache",
    "cache_teacher_outputs",
    "data",
    "distillers",
    "export",
    "features",
    "losses",
    "models",
    "quantization",
    "to_tflite",
]
