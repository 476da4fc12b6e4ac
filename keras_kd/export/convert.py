"""Keras -> TFLite conversion with built-in ops only, batch size 1."""

import contextlib
import io
import re
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_kd._checks import one_of
from keras_kd._progress import Progress
from keras_kd.export.inputs import input_specs, model_inputs, representative_inputs

QUANTIZATIONS = (None, "float16", "dynamic", "int8")
LOW_PRECISION = frozenset({"float16", "bfloat16", "mixed_float16", "mixed_bfloat16"})
FLOAT_POLICY_CLASSES = ("DTypePolicy", "FloatDTypePolicy")


def deployable_model(model):
    """The plain Keras model to export: a keras_kd scheme (a distiller, DML,
    ONE, BYOT, a chain such as Born-Again) resolves to its deployable model."""
    from keras_kd.distillers import DistillationChain
    from keras_kd.distillers._trainer import TermTrainer

    if isinstance(model, TermTrainer | DistillationChain):  # each names its deployable model
        return model.deployable
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"`model` must be a Keras model or a keras_kd distiller. Received: model={model!r}"
        )
    return model


def _float32_config(config):
    """``config`` with every float16/bfloat16 dtype (policy) made float32, and whether any was."""
    if isinstance(config, list):
        items = [_float32_config(item) for item in config]
        return [item for item, _ in items], any(changed for _, changed in items)
    if not isinstance(config, dict):
        return config, False
    if config.get("class_name") in FLOAT_POLICY_CLASSES:
        name = config.get("config", {}).get("name")
        return ("float32", True) if name in LOW_PRECISION else (config, False)
    result, changed = {}, False
    for key, value in config.items():
        if key == "dtype" and isinstance(value, str) and value in LOW_PRECISION:
            result[key], changed = "float32", True
            continue
        result[key], changed_here = _float32_config(value)
        changed = changed or changed_here
    return result, changed


def _as_float32(weight):
    low = weight.dtype.kind == "f" or weight.dtype.name == "bfloat16"
    return weight.astype(np.float32) if low else weight


def float32_model(model):
    """A float32 copy of a mixed-precision or float16 model, or the model itself.

    TFLite's float kernels take float32; a model whose layers compute in
    float16 (e.g. under the ``mixed_float16`` policy) converts into ops
    without built-in kernels. The copy is rebuilt from the model's config
    with float32 policies, in Keras's safe mode, and takes its weights.
    """
    config, changed = _float32_config(keras.saving.serialize_keras_object(model))
    if not changed:
        return model
    try:
        copy = keras.saving.deserialize_keras_object(config)
        copy.set_weights([_as_float32(w) for w in model.get_weights()])
    except Exception as err:  # whatever rebuilding a user's model raises
        raise ValueError(
            f"`model` {model.name!r} computes in float16 and is exported through a float32 "
            f"copy rebuilt from its config, which failed ({type(err).__name__}: {err}). "
            "Build the model under keras.config.set_dtype_policy('float32'), load its "
            f"weights and export that. Received: model={model.name!r}"
        ) from None
    return copy


def fixed_batch(model):
    """Wraps ``model`` with batch-size-1 inputs (TFLite-Micro needs static shapes).

    Each input keeps its dtype: an integer (token id) input stays integer, so
    that the converter never quantizes it (an int8 "token" with a scale of
    0.19 maps most ids to others); float inputs are float32.

    A one-input model gets one input named ``"input"``. A model with several
    inputs gets a list of inputs named as in `input_specs` (the TFLite file's
    signature names them so; the converter may order them otherwise), and is
    called on them in its own structure (a list or a dict).
    """
    specs = input_specs(model)
    if len(specs) == 1:
        inputs = keras.Input(specs[0].shape, batch_size=1, name="input", dtype=specs[0].dtype)
        return keras.Model(inputs, model(inputs, training=False), name=f"{model.name}_b1")
    inputs = [
        keras.Input(spec.shape, batch_size=1, name=spec.name, dtype=spec.dtype) for spec in specs
    ]
    outputs = model(model_inputs(specs, inputs), training=False)
    return keras.Model(inputs, outputs, name=f"{model.name}_b1")


def _calibration_samples(calibration, specs, progress):
    """The converter's representative dataset: one batch-1 sample at a time, by
    position for one input, else as a dict keyed by signature input name."""
    for i in range(len(calibration[0])):
        if len(specs) == 1:
            yield [calibration[0][i][None]]
        else:
            yield {
                spec.name: array[i : i + 1] for spec, array in zip(specs, calibration, strict=True)
            }
        progress.update(i + 1)
    progress.close()


def recurrent_layers(model):
    """The recurrent layers of ``model`` that run as a TFLite ``WHILE`` loop.

    Every ``keras.layers.RNN`` (``LSTM``, ``GRU``, ``SimpleRNN``, ``ConvLSTM*``,
    an ``RNN`` on a custom cell) without ``unroll=True``, found in nested
    models and wrappers (``Bidirectional``, ``TimeDistributed``) too.

    Returns:
        ``"name (ClassName)"`` strings, in the model's layer order.
    """
    found, seen = [], set()
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.RNN) and not layer.unroll and id(layer) not in seen:
            seen.add(id(layer))
            found.append(f"{layer.name} ({type(layer).__name__})")
    return found


def check_int8_supported(model):
    """Refuses, before anything runs, a model that full int8 conversion would crash on.

    TensorFlow 2.21's int8 calibrator kills the Python process (a
    segmentation fault, no exception) on the ``WHILE`` loop a recurrent layer
    converts to (LSTM, GRU, SimpleRNN, Bidirectional LSTM alike), losing
    whatever the user had not saved. float32, float16 and dynamic-range
    conversion of the same layers work, and so does int8 with
    ``unroll=True`` (no loop: the steps become plain ops).

    Raises:
        ValueError: the model has recurrent layers that are not unrolled.
    """
    layers = recurrent_layers(model)
    if layers:
        raise ValueError(
            f"quantization='int8' cannot convert recurrent layers that run as a loop: "
            f"{', '.join(layers)}. TensorFlow's int8 calibrator crashes the Python process "
            "on them (a segmentation fault). Export with quantization='float16' or "
            "'dynamic' (both run these layers), or rebuild the layers with unroll=True "
            "(a fixed sequence length; int8 and TFLite-Micro then work), load the trained "
            f"weights and export that. Received: model={model.name!r}, quantization='int8'"
        )


def _flex_ops(message):
    return sorted(set(re.findall(r"\btf\.(\w+)", message)))


def convert(model, quantization=None, representative_data=None, verbose=0):
    """Converts a Keras model to TFLite flatbuffer bytes.

    Args:
        model: a plain Keras model: one input, or a list or dict of inputs.
        quantization: None (float32), ``"float16"``, ``"dynamic"`` (dynamic-range
            int8 weights) or ``"int8"`` (full integer, int8 float inputs and
            output; each float input gets its own scale and zero point, and
            integer inputs such as token ids stay integer: the TF 2.21
            converter leaves an int32 input as it is).
        representative_data: calibration data for ``"int8"`` (what
            `representative_inputs` takes).
        verbose: progress of the ``int8 calibration`` stage: ``"auto"``, 0, 1 or 2.

    Returns:
        The ``.tflite`` bytes.

    Raises:
        ValueError: ``"int8"`` without ``representative_data`` or for a model
            with recurrent layers that are not unrolled (`check_int8_supported`),
            or ops without TFLite built-in kernels.
    """
    one_of("quantization", quantization, QUANTIZATIONS)
    if quantization == "int8":
        check_int8_supported(model)
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
        specs = input_specs(model)
        calibration = representative_inputs(representative_data, specs)
        progress = Progress("int8 calibration", len(calibration[0]), verbose, "sample")
        converter.representative_dataset = lambda: _calibration_samples(
            calibration, specs, progress
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    try:
        # The converter saves a temporary SavedModel and prints its endpoints to stdout;
        # calibrating on samples given by input name, it opens the deprecated tf.lite
        # interpreter, which warns about itself.
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", r"\s*Warning: tf\.lite\.Interpreter is deprecated", UserWarning
            )
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
