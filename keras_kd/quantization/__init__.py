"""Quantization-aware distillation: fine-tune a fake-quantized student with
any distiller, then export the float weights through full int8 conversion.

Example:
    ```python
    qat_student = quantization_aware(student)
    distiller = KD(student=qat_student, teacher=teacher)
    distiller.compile(optimizer=keras.optimizers.SGD(0.005, momentum=0.9))
    distiller.fit(train, epochs=3)
    deployable = float_weights(qat_student, student)   # plain Keras model
    to_tflite(deployable, "student.tflite", quantization="int8", ...)
    ```
"""

import keras

from keras_kd.quantization.fake_quant import QUANTIZED, fake_quant_kernel


def _clone_layer(layer):
    quantized = QUANTIZED.get(type(layer))
    if quantized is None:
        return layer.__class__.from_config(layer.get_config())
    return quantized.from_config(layer.get_config())


def _copy_weights(source, target):
    """Copies each layer's weights by name; extra (range) weights are kept."""
    for layer in source.layers:
        other = target.get_layer(layer.name)
        for src, dst in zip(layer.weights, other.weights[: len(layer.weights)], strict=True):
            dst.assign(src)


def quantization_aware(model):
    """A copy of ``model`` with fake-quantized Conv2D/Dense kernels and
    fake-quantized Conv2D, Dense, ReLU, Add and Normalization outputs.

    The copy starts from ``model``'s weights; ``model`` is not modified.
    Layers of other types are copied unchanged (their outputs are not
    fake-quantized). Distill into the copy (any distiller, a low learning rate,
    a few epochs) when the int8 export of ``model`` loses accuracy, then copy
    the weights back with `float_weights` and export that.

    Args:
        model: a functional Keras model (the trained float student).

    Returns:
        A functional `keras.Model` of the same architecture and layer names
        whose Conv2D/Dense kernels and activations are fake-quantized.

    Example:
        ```python
        qat_student = quantization_aware(student)
        distiller = KD(student=qat_student, teacher=teacher)
        distiller.compile(optimizer=keras.optimizers.SGD(0.005, momentum=0.9))
        distiller.fit(train, epochs=3)
        ```

    Reference:
        Jacob et al., "Quantization and Training of Neural Networks for
        Efficient Integer-Arithmetic-Only Inference", CVPR 2018.
    """
    if not isinstance(model, keras.Model) or not model.inputs:
        raise ValueError(f"`model` must be a functional Keras model. Received: model={model!r}")
    copy = keras.models.clone_model(model, clone_function=_clone_layer)
    _copy_weights(model, copy)
    return copy


def float_weights(quantization_aware_model, float_model):
    """Copies the trained weights of a `quantization_aware` copy back into
    ``float_model`` (same architecture) and returns it, ready for
    `keras_kd.export.to_tflite(..., quantization="int8")`.

    The range-tracking weights of the copy are left behind: the int8
    converter calibrates its own ranges on ``representative_data``.

    Args:
        quantization_aware_model: the trained copy made by `quantization_aware`.
        float_model: the model it was made from (its weights are overwritten).

    Returns:
        ``float_model``, a plain Keras model with the trained weights.

    Example:
        ```python
        deployable = float_weights(qat_student, student)
        to_tflite(deployable, "student.tflite", quantization="int8",
                  representative_data=train.take(2))
        ```
    """
    for layer in float_model.layers:
        other = quantization_aware_model.get_layer(layer.name)
        for dst, src in zip(layer.weights, other.weights[: len(layer.weights)], strict=True):
            dst.assign(src)
    return float_model


__all__ = ["fake_quant_kernel", "float_weights", "quantization_aware"]
