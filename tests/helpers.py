"""Tiny model pairs and snapshots shared by the distiller tests."""

import keras
import numpy as np

NUM_CLASSES = 3
IMAGE_SHAPE = (16, 16, 3)


def tiny_cnn(
    name, width=4, weight_decay=0.0, dropout=0.0, num_classes=NUM_CLASSES, batch_norm=True
):
    """A two-stage CNN with taps ``block1`` (16x16), ``block2`` (8x8) and their
    pre-activations ``block1_pre`` / ``block2_pre``, then ``pool`` and ``logits``.
    Without ``batch_norm`` the convolutions themselves are the pre-activations."""
    reg = keras.regularizers.L2(weight_decay) if weight_decay else None

    def pre(x, block):
        if batch_norm:
            return keras.layers.BatchNormalization(name=f"{block}_pre")(x)
        return keras.layers.Identity(name=f"{block}_pre")(x)

    inputs = keras.Input(IMAGE_SHAPE, name="image")
    x = keras.layers.Conv2D(width, 3, padding="same", kernel_regularizer=reg, name="conv1")(inputs)
    x = keras.layers.ReLU(name="block1")(pre(x, "block1"))
    x = keras.layers.Conv2D(2 * width, 3, strides=2, padding="same", name="conv2")(x)
    x = keras.layers.ReLU(name="block2")(pre(x, "block2"))
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def tiny_pair(student_width=4, teacher_width=8, batch_norm=True, **student_kwargs):
    keras.utils.set_random_seed(0)
    student = tiny_cnn("student", student_width, batch_norm=batch_norm, **student_kwargs)
    return student, tiny_cnn("teacher", teacher_width, batch_norm=batch_norm)


def tiny_data(n=32, seed=0, one_hot=False):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (n, *IMAGE_SHAPE)).astype("float32")
    y = rng.integers(0, NUM_CLASSES, n).astype("int32")
    if one_hot:
        y = np.eye(NUM_CLASSES, dtype="float32")[y]
    return x, y


def trained_tiny_model(calibrate_batch_norm=False):
    """A tiny CNN fitted for a few steps, with the data it was fitted on.

    With ``calibrate_batch_norm`` the BatchNorm moving statistics are set from
    the data in one pass (after 9 steps they are still near their initial
    values, unlike a trained student's).
    """
    keras.utils.set_random_seed(0)
    model = tiny_cnn("student", 4)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = tiny_data(96)
    model.fit(x, y, epochs=3 if calibrate_batch_norm else 2, verbose=0)
    if calibrate_batch_norm:
        norms = [
            layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
        ]
        for layer in norms:
            layer.momentum = 0.0
        model(x, training=True)
        for layer in norms:
            layer.momentum = 0.99
    return model, x, y


def snapshot(model):
    """Every variable (trainable, BatchNorm statistics, ...) as NumPy arrays."""
    return [v.numpy() for v in model.variables]


def snapshot_without_random_state(model):
    """`snapshot` less the state of Keras's random layers (``seed_generator``
    variables): Keras saves neither the seed nor the count of a preprocessing
    layer's generator, so MLKD's strong view draws anew after a load or resume."""
    return [v.numpy() for v in model.variables if "seed_generator" not in v.path]


def assert_same(before, after):
    assert len(before) == len(after)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)


def changed(before, after):
    return any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))


# Logits with positions: a segmenter (per pixel) and a tagger (per token).

CLASSES, VOCAB, LENGTH = 3, 12, 7


def segmenter(name, width):
    """A tiny encoder-decoder: (8, 8, 3) images -> (8, 8, CLASSES) logits."""
    inputs = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="enc")(inputs)
    h = keras.layers.MaxPooling2D(name="down")(h)
    h = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="mid")(h)
    h = keras.layers.Conv2D(8, 1, name="neck")(h)  # same channels in every width (PKD)
    h = keras.layers.UpSampling2D(name="up")(h)
    outputs = keras.layers.Conv2D(CLASSES, 1, name="logits")(h)
    return keras.Model(inputs, outputs, name=name)


def tagger(name, units, recurrent=keras.layers.GRU):
    """Token ids (0 = padding, masked) -> (LENGTH, VOCAB) next-token logits."""
    inputs = keras.Input((LENGTH,), dtype="int32")
    h = keras.layers.Embedding(VOCAB, 8, mask_zero=True, name="embed")(inputs)
    h = recurrent(units, return_sequences=True, name="rnn")(h)
    outputs = keras.layers.Dense(VOCAB, name="logits")(h)
    return keras.Model(inputs, outputs, name=name)


def segmentation_data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8, 8, 3)).astype("float32")
    y = (x[..., 0] > 0.5).astype("int32") + (x[..., 1] > 0.6).astype("int32")
    return x, y


def sequence_data(n=16, seed=0):
    """Padded token sequences of 2 to LENGTH tokens; labels: the next token."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, LENGTH + 1, size=n)
    tokens = rng.integers(1, VOCAB, size=(n, LENGTH + 1))
    real = np.arange(LENGTH + 1)[None] < lengths[:, None]
    tokens = np.where(real, tokens, 0).astype("int32")
    return tokens[:, :-1], tokens[:, 1:]


ANCHORS = 16  # a 4 x 4 grid of one anchor each


def detector(name, width, outputs="dict"):
    """A one-stage detector head pair on (8, 8, 3) images: per-anchor class
    logits (ANCHORS, CLASSES) and box offsets (ANCHORS, 4), as a dict
    (``{"classes", "boxes"}``) or a list (output layers ``cls`` and ``box``)."""
    inputs = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(width, 3, strides=2, padding="same", activation="relu", name="neck")(
        inputs
    )
    classes = keras.layers.Reshape((ANCHORS, CLASSES), name="cls")(
        keras.layers.Conv2D(CLASSES, 1, name="cls_head")(h)
    )
    boxes = keras.layers.Reshape((ANCHORS, 4), name="box")(keras.layers.Conv2D(4, 1)(h))
    heads = {"classes": classes, "boxes": boxes} if outputs == "dict" else [classes, boxes]
    return keras.Model(inputs, heads, name=name)


def detection_data(n=16, seed=0):
    """Images, per-anchor class labels and box offsets."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8, 8, 3)).astype("float32")
    classes = rng.integers(0, CLASSES, size=(n, ANCHORS))
    boxes = rng.normal(size=(n, ANCHORS, 4)).astype("float32")
    return x, classes, boxes
