"""Keras -> TFLite conversion with built-in ops only, batch size 1."""

import contextlib
import io
import re

import keras
import numpy as np
import tensorflow as tf

from keras_kd._checks import one_of

QUANTIZATIONS = (None, "float16", "dynamic", "int8")
REPRESENTATIVE_SAMPLES = 200


def deployable_model(model):
    """The plain Keras model to export: a distiller resolves to its student."""
    from keras_kd.distillers._trainer import TermTrainer

    if isinstance(model, TermTrainer):  # every keras_kd scheme names its deployable model
        return model.deployable
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"`model` must be a Keras model or a keras_kd distiller. Received: model={model!r}"
        )
    return model


def fixed_batch(model):
    """Wraps ``model`` with a batch-size-1 input (TFLite-Micro needs static shapes)."""
    if len(model.inputs) != 1:
        raise ValueError(
            "Export supports models with one input. Received: model="
            f"{model.name!r} with {len(model.inputs)} inputs"
        )
    inputs = keras.Input(model.inputs[0].shape[1:], batch_size=1, name="input")
    return keras.Model(inputs, model(inputs, training=False), name=f"{model.name}_b1")


def _images(data):
    """Yields single float32 images from arrays, (x, y) pairs or datasets."""
    if isinstance(data, tf.data.Dataset):
        for element in data:
            x = element[0] if isinstance(element, tuple | list) else element
            x = np.asarray(x, dtype=np.float32)
            yield from (x if x.ndim == 4 else x[None])
    else:
        x = data[0] if isinstance(data, tuple | list) else data
        yield from np.asarray(x, dtype=np.float32)


def representative_images(data, limit=REPRESENTATIVE_SAMPLES):
    """Up to ``limit`` calibration images as a (N, H, W, C) float32 array."""
    images = []
    for image in _images(data):
        images.append(image)
        if len(images) == limit:
            break
    if not images:
        raise ValueError(
            "`representative_data` must contain at least one image. Received: an empty dataset"
        )
    return np.stack(images)


def _flex_ops(message):
    return sorted(set(re.findall(r"\btf\.(\w+)", message)))


def convert(model, quantization=None, representative_data=None):
    """Converts a Keras model to TFLite flatbuffer bytes.

    Args:
        model: a plain Keras model (one input).
        quantization: None (float32), ``"float16"``, ``"dynamic"`` (dynamic-range
            int8 weights) or ``"int8"`` (full integer, int8 input and output).
        representative_data: calibration images for ``"int8"``.

    Returns:
        The ``.tflite`` bytes.
    """
    one_of("quantization", quantization, QUANTIZATIONS)
    if quantization == "int8" and representative_data is None:
        raise ValueError(
            "`representative_data` is required for quantization='int8' (full integer "
            "quantization calibrates activation ranges on it); pass ~100-500 training "
            "images. Received: representative_data=None"
        )
    converter = tf.lite.TFLiteConverter.from_keras_model(fixed_batch(model))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantization == "int8":
        calibration = representative_images(representative_data)
        converter.representative_dataset = lambda: ([image[None]] for image in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    try:
        # The converter saves a temporary SavedModel and prints its endpoints to stdout.
        with contextlib.redirect_stdout(io.StringIO()):
            return converter.convert()
    except Exception as err:  # the converter raises several private error types
        ops = _flex_ops(str(err))
        if ops:
            raise ValueError(
                f"`model` {model.name!r} uses TensorFlow ops that have no TFLite built-in "
                f"kernel (they would need Flex ops, which TFLite-Micro cannot run): {ops}. "
                "Replace the layers that produce them. Received: model="
                f"{model.name!r}"
            ) from None
        raise
