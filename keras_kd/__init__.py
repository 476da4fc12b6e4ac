"""keras_kd: knowledge distillation for Keras 3 on TensorFlow, down to TFLite."""

import keras as _keras

if _keras.backend.backend() != "tensorflow":
    raise ImportError(
        "keras_kd needs the TensorFlow backend of Keras 3 (its distillers use "
        "tf.GradientTape and TFLite export). Set KERAS_BACKEND=tensorflow before "
        f"importing keras. Received: KERAS_BACKEND={_keras.backend.backend()!r}"
    )

from keras_kd import (  # noqa: E402
    cache,
    data,
    distillers,
    errors,
    export,
    features,
    labels,
    losses,
    models,
    pretrained,
    quantization,
)
from keras_kd.cache import cache_teacher_outputs  # noqa: E402
from keras_kd.distillers import KD, Distiller  # noqa: E402
from keras_kd.export import to_tflite  # noqa: E402
from keras_kd.features import build_feature_extractor  # noqa: E402

__version__ = "0.2.0"

__all__ = [
    "KD",
    "Distiller",
    "build_feature_extractor",
    "cache",
    "cache_teacher_outputs",
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
    "to_tflite",
]
