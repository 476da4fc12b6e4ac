"""Fake-quantized Keras 3 layers for quantization-aware distillation.

Weights: symmetric per-output-channel int8 (narrow range), as the TFLite
int8 converter quantizes conv and dense kernels. Because the scale is per
output channel, quantizing the kernel before BatchNorm models the folded
kernel the converter deploys (a positive per-channel factor commutes with
it). Activations: asymmetric 8-bit with ranges tracked by an exponential
moving average of batch min/max during training. Rounding passes gradients
straight through inside the range (`tf.quantization.fake_quant_*`).

Reference:
    Jacob et al., "Quantization and Training of Neural Networks for
    Efficient Integer-Arithmetic-Only Inference", CVPR 2018.
"""

import keras
import tensorflow as tf

EMA_DECAY = 0.99
NUM_BITS = 8


def fake_quant_kernel(kernel):
    """Per-output-channel symmetric fake quantization of a kernel (last axis).

    Each output channel c is rounded to 255 levels in ``[-max|k_c|, max|k_c|]``
    (int8, narrow range), as the TFLite converter quantizes conv and dense
    kernels; the gradient passes straight through.

    Args:
        kernel: a float kernel whose last axis is the output channels, e.g.
            (kh, kw, in, out) or (in, out).

    Returns:
        A float32 tensor of the kernel's shape holding the quantized values.

    Example:
        ```python
        quantized = fake_quant_kernel(conv.kernel)
        ```

    Reference:
        Jacob et al., "Quantization and Training of Neural Networks for
        Efficient Integer-Arithmetic-Only Inference", CVPR 2018.
    """
    axes = list(range(len(kernel.shape) - 1))
    bound = tf.maximum(tf.reduce_max(tf.abs(kernel), axis=axes), 1e-8)
    return tf.quantization.fake_quant_with_min_max_vars_per_channel(
        kernel, -bound, bound, num_bits=NUM_BITS, narrow_range=True
    )


class _ActivationRange:
    """Adds EMA min/max weights and a fake-quant of the layer's output."""

    def _build_range(self):
        self.range_min = self.add_weight(
            name="range_min", shape=(), initializer="zeros", trainable=False
        )
        self.range_max = self.add_weight(
            name="range_max", shape=(), initializer="zeros", trainable=False
        )
        self.range_seen = self.add_weight(
            name="range_seen", shape=(), initializer="zeros", trainable=False
        )

    # Conv2D and Dense save only kernel and bias; save every variable instead.
    def save_own_variables(self, store):
        keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        keras.layers.Layer.load_own_variables(self, store)

    def _quantize_output(self, x, training):
        x = tf.cast(x, tf.float32)
        if training:
            low, high = tf.minimum(tf.reduce_min(x), 0.0), tf.maximum(tf.reduce_max(x), 0.0)
            first = tf.equal(self.range_seen, 0.0)
            self.range_min.assign(
                tf.where(first, low, EMA_DECAY * self.range_min + (1 - EMA_DECAY) * low)
            )
            self.range_max.assign(
                tf.where(first, high, EMA_DECAY * self.range_max + (1 - EMA_DECAY) * high)
            )
            self.range_seen.assign(1.0)
        high = tf.maximum(self.range_max, self.range_min + 1e-6)
        quantized = tf.quantization.fake_quant_with_min_max_vars(
            x, self.range_min, high, num_bits=NUM_BITS
        )
        return tf.where(tf.equal(self.range_seen, 0.0), x, quantized)


@keras.saving.register_keras_serializable(package="keras_kd")
class QuantConv2D(_ActivationRange, keras.layers.Conv2D):
    """`Conv2D` with a fake-quantized kernel and output."""

    def build(self, input_shape):
        super().build(input_shape)
        self._build_range()

    def call(self, inputs, training=False):
        outputs = self.convolution_op(inputs, fake_quant_kernel(self.kernel))
        if self.use_bias:
            outputs = outputs + self.bias
        return self._quantize_output(self.activation(outputs), training)


@keras.saving.register_keras_serializable(package="keras_kd")
class QuantDense(_ActivationRange, keras.layers.Dense):
    """`Dense` with a fake-quantized kernel and output."""

    def build(self, input_shape):
        super().build(input_shape)
        self._build_range()

    def call(self, inputs, training=False):
        outputs = tf.matmul(inputs, fake_quant_kernel(self.kernel))
        if self.use_bias:
            outputs = outputs + self.bias
        return self._quantize_output(self.activation(outputs), training)


def _output_quantized(base):
    class Quantized(_ActivationRange, base):
        def build(self, input_shape):
            super().build(input_shape)
            self._build_range()

        def call(self, inputs, training=False):
            return self._quantize_output(super().call(inputs), training)

        def compute_output_spec(self, *args, **kwargs):
            kwargs.pop("training", None)  # Merge layers do not take it
            return super().compute_output_spec(*args, **kwargs)

    Quantized.__name__ = Quantized.__qualname__ = f"Quant{base.__name__}"
    Quantized.__doc__ = f"`{base.__name__}` whose output is fake-quantized."
    return keras.saving.register_keras_serializable(package="keras_kd")(Quantized)


QuantReLU = _output_quantized(keras.layers.ReLU)
QuantAdd = _output_quantized(keras.layers.Add)
QuantNormalization = _output_quantized(keras.layers.Normalization)

QUANTIZED = {
    keras.layers.Conv2D: QuantConv2D,
    keras.layers.Dense: QuantDense,
    keras.layers.ReLU: QuantReLU,
    keras.layers.Add: QuantAdd,
    keras.layers.Normalization: QuantNormalization,
}
