"""Branches, gates and early-exit heads built from a user's functional model."""

import keras

from keras_kd.features import tap_layer


def split_at(model, cut_layer, argument="cut_layer"):
    """Returns ``(cut tensor, tail model)``: the model after ``cut_layer``."""
    cut = tap_layer(model, cut_layer, argument)
    try:
        tail = keras.Model(cut, model.outputs[0], name=f"{model.name}_tail")
    except ValueError as err:
        raise ValueError(
            f"`{argument}` must cut {model.name!r} into two parts (everything after the "
            f"layer must depend on the input only through it): {str(err).splitlines()[0]}. "
            f"Received: {argument}={cut_layer!r}"
        ) from None
    return cut, tail


def branch_copy(tail, index):
    """A freshly initialized copy of ``tail`` named ``branch{index}``."""
    inputs = keras.Input(tuple(tail.inputs[0].shape[1:]))
    return keras.Model(inputs, keras.models.clone_model(tail)(inputs), name=f"branch{index}")


_GATE_POOLING = {
    2: None,  # a vector (batch, features): nothing to pool
    3: keras.layers.GlobalAveragePooling1D,  # a sequence (batch, steps, features)
    4: keras.layers.GlobalAveragePooling2D,  # a map (batch, height, width, channels)
}


def build_gate(feature_shape, branches, name="gate", cut_layer=None):
    """ONE's gate: global average pooling (none for a vector), a dense layer, a
    softmax over branches.

    Args:
        feature_shape: the cut layer's output shape (batch first), 2-D, 3-D or 4-D.
        branches: the number of branches the gate weighs.
        name: the gate model's name.
        cut_layer: the cut layer's name, for error messages.

    Returns:
        A `keras.Model` from the cut feature to (batch, branches) weights.
    """
    feature_shape = tuple(feature_shape)
    if len(feature_shape) not in _GATE_POOLING:
        raise ValueError(
            "`cut_layer` must name a layer whose output is a vector (batch, features), a "
            "sequence (batch, steps, features) or a feature map (batch, height, width, "
            f"channels): ONE's gate pools it to a vector. Received: cut_layer={cut_layer!r} "
            f"with output shape {feature_shape}"
        )
    inputs = keras.Input(feature_shape[1:])
    pooling = _GATE_POOLING[len(feature_shape)]
    x = inputs if pooling is None else pooling(name=f"{name}_pool")(inputs)
    x = keras.layers.Dense(branches, name=f"{name}_dense")(x)
    return keras.Model(inputs, keras.layers.Softmax(name=f"{name}_softmax")(x), name=name)


def build_bottleneck(feature_shape, target_shape, name):
    """BYOT bottleneck: a 1x1 conv to the target's channels, then stride-2 3x3
    convs (each with BatchNorm and ReLU) down to the target's spatial size."""
    if len(feature_shape) != 4 or len(target_shape) != 4:
        raise ValueError(
            "A BYOT exit and the deepest feature must be 4-D (batch, height, width, "
            "channels) feature maps; tap a convolutional layer. Received: exit shape "
            f"{tuple(feature_shape)}, deepest shape {tuple(target_shape)} ({name})"
        )
    (h, w, _), (th, tw, tc) = feature_shape[1:], target_shape[1:]
    factor = h // th
    if h % th or w % tw or factor != w // tw or factor & (factor - 1):
        raise ValueError(
            "A BYOT exit must be a power-of-two multiple of the deepest feature's size "
            f"(stride-2 convolutions bridge them). Received: exit shape {tuple(feature_shape)}, "
            f"deepest shape {tuple(target_shape)}"
        )
    inputs = keras.Input(tuple(feature_shape[1:]))
    x = keras.layers.Conv2D(tc, 1, use_bias=False, name=f"{name}_reduce")(inputs)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    while factor > 1:
        x = keras.layers.Conv2D(tc, 3, strides=2, padding="same", use_bias=False)(x)
        x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
        factor //= 2
    return keras.Model(inputs, x, name=name)


def build_classifier(feature_shape, num_classes, name):
    """Global average pooling and a dense layer giving logits."""
    inputs = keras.Input(tuple(feature_shape[1:]))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(x), name=name)
