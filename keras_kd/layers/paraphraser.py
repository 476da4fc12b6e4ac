"""Factor Transfer's paraphraser (teacher side) and translator (student side).

Kim, Park, Kwak, "Paraphrasing Complex Network: Network Compression via
Factor Transfer", NeurIPS 2018: three 3x3 conv + BN + LeakyReLU layers
encode a feature map into a factor of ``k * C`` channels (k the paraphrase
rate); the paraphraser's decoder mirrors them with transposed convolutions.
"""

import keras

LEAKY_SLOPE = 0.1


def _conv_bn_lrelu(filters, name, transpose=False):
    conv = keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D
    return [
        conv(filters, 3, padding="same", name=f"{name}_conv"),
        keras.layers.BatchNormalization(name=f"{name}_bn"),
        keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_lrelu"),
    ]


def factor_channels(channels, rate):
    """The factor's channel count, ``max(1, round(rate * channels))``."""
    return max(1, int(round(rate * channels)))


def build_paraphraser(feature_shape, rate=0.5, name="paraphraser"):
    """Returns ``(encoder, autoencoder)`` for a teacher feature map.

    The encoder maps (H, W, C) to the factor (H, W, k*C); the autoencoder
    reconstructs (H, W, C) from it (trained with an L2 loss in stage 1).
    """
    channels = feature_shape[-1]
    factor = factor_channels(channels, rate)
    inputs = keras.Input(tuple(feature_shape[1:]))
    x = inputs
    for i, filters in enumerate([channels, factor, factor]):
        for layer in _conv_bn_lrelu(filters, f"{name}_enc{i}"):
            x = layer(x)
    encoder = keras.Model(inputs, x, name=f"{name}_encoder")
    y = x
    for i, filters in enumerate([factor, channels, channels]):
        for layer in _conv_bn_lrelu(filters, f"{name}_dec{i}", transpose=True):
            y = layer(y)
    return encoder, keras.Model(inputs, y, name=name)


def build_translator(feature_shape, factor_shape, name="translator"):
    """Maps a student feature map (H, W, C_s) to the teacher factor's shape."""
    inputs = keras.Input(tuple(feature_shape[1:]))
    x = inputs
    filters = [feature_shape[-1], factor_shape[-1], factor_shape[-1]]
    for i, f in enumerate(filters):
        for layer in _conv_bn_lrelu(f, f"{name}{i}"):
            x = layer(x)
    return keras.Model(inputs, x, name=name)
