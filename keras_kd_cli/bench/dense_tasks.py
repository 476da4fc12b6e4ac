"""The segmentation and sequence benchmarks: models, rows and sizes.

Segmentation (`keras_kd_cli.bench.segmentation_data`): 64x64 canvases, 11
classes. The teacher is a small encoder-decoder (two stride-2 stages, a skip
connection, transposed convolutions back up); the student an MCU-sized one
(depthwise-separable encoder, no skip, logits at half size resized
bilinearly). Both tap ``neck``, a 1x1 convolution
to `NECK_CHANNELS` at 16x16, which PKD compares. Upsampling is by transposed
convolutions: Keras 3's ``UpSampling2D`` becomes a TILE op, which
TFLite-Micro has no kernel for. Metric: mean IoU on held-out canvases.

Sequences (`keras_kd_cli.bench.sequence_data`): next-character prediction on
standard-library docstrings, 98 ids, padding masked. Teacher: embedding 48,
GRU 256; student: embedding 16, GRU 64. Metric: bits per character on the
held-out modules.

Rows use the methods' published settings where there are any: CWD tau 1,
weight 3 (mmrazor's segmentation configs); PKD weight 6 (mmrazor's
configs); GKD the divergence alone at temperature 1 (TRL's GKDTrainer; its
on-policy sampling is not part of keras_kd's offline GKD). The per-pixel KD
row (T 1, CE 1 + KD 1) has no tuning behind it. Every row trains with Adam
and a cosine decay to 0, batch `Task.batch_size`, seed 0. BatchNorm
momentum is 0.9, not Keras's 0.99: in one uncommitted diagnostic run (4
epochs on 1,500 canvases) the teacher's moving statistics at 0.99 lagged its
weights so far that in inference mode it predicted background everywhere,
and at 0.9 they did not; the run's figures are not kept, as no committed
command reproduces them.
"""

import dataclasses

import keras

from keras_kd import distillers

NECK_CHANNELS = 32


def _conv(h, filters, strides=1, name=None, separable=False):
    layer = keras.layers.SeparableConv2D if separable else keras.layers.Conv2D
    h = layer(filters, 3, strides=strides, padding="same", use_bias=False, name=name)(h)
    return keras.layers.ReLU()(keras.layers.BatchNormalization(momentum=0.9)(h))


def _up(h, filters):
    h = keras.layers.Conv2DTranspose(filters, 3, strides=2, padding="same", use_bias=False)(h)
    return keras.layers.ReLU()(keras.layers.BatchNormalization(momentum=0.9)(h))


def segmentation_teacher(num_classes=11, size=64):
    """Encoder-decoder teacher: (size, size, 3) pixels 0..255 -> per-pixel logits."""
    inputs = keras.Input((size, size, 3))
    h = keras.layers.Rescaling(1 / 255)(inputs)
    h = _conv(h, 32)
    skip = _conv(h, 48, strides=2)  # size / 2
    h = _conv(skip, 96, strides=2)  # size / 4
    h = _conv(h, 96)
    h = keras.layers.Conv2D(NECK_CHANNELS, 1, name="neck")(h)
    h = _up(h, 48)
    h = _conv(keras.layers.Concatenate()([h, skip]), 48)
    h = _up(h, 32)
    outputs = keras.layers.Conv2D(num_classes, 1, name="logits")(h)
    return keras.Model(inputs, outputs, name="seg_teacher")


def segmentation_student(num_classes=11, size=64):
    """MCU-sized student: separable encoder, one transposed convolution up to
    half size, logits there, bilinear resize to full size (TFLite-Micro's
    transposed convolution keeps an int32 copy of its output: one at full
    size took the int8 arena from about 180 to 350 KB)."""
    inputs = keras.Input((size, size, 3))
    h = keras.layers.Rescaling(1 / 255)(inputs)
    h = _conv(h, 16, strides=2)  # size / 2
    h = _conv(h, 32, strides=2, separable=True)  # size / 4
    h = _conv(h, 32, separable=True)
    h = keras.layers.Conv2D(NECK_CHANNELS, 1, name="neck")(h)
    h = _up(h, 16)  # size / 2
    h = keras.layers.Conv2D(num_classes, 1, name="logits")(h)
    outputs = keras.layers.Resizing(size, size, interpolation="bilinear", name="full_size")(h)
    return keras.Model(inputs, outputs, name="seg_student")


def _language_model(name, vocab_size, length, embedding, units):
    inputs = keras.Input((length,), dtype="int32")
    h = keras.layers.Embedding(vocab_size, embedding, mask_zero=True)(inputs)
    h = keras.layers.GRU(units, return_sequences=True, name="rnn")(h)
    outputs = keras.layers.Dense(vocab_size, name="logits")(h)
    return keras.Model(inputs, outputs, name=name)


def sequence_teacher(vocab_size=98, length=64):
    """Character GRU teacher: embedding 48, GRU 256."""
    return _language_model("seq_teacher", vocab_size, length, 48, 256)


def sequence_student(vocab_size=98, length=64):
    """Character GRU student: embedding 16, GRU 64."""
    return _language_model("seq_student", vocab_size, length, 16, 64)


@dataclasses.dataclass(frozen=True)
class Task:
    """One dense benchmark's sizes and training settings.

    Attributes:
        name: ``"segmentation"`` or ``"sequence"``.
        metric: the held-out metric's record key.
        higher_is_better: whether a larger metric is better.
        epochs: epochs of every student row.
        teacher_epochs: epochs of the teacher.
        batch_size: samples per step.
        learning_rate: Adam's initial rate (cosine decay to 0).
        train_count: training canvases (segmentation), or the first
            windows kept (sequences; None: all).
        heldout_count: held-out canvases, or the first held-out windows kept.
        length: characters per window (sequences).
    """

    name: str
    metric: str
    higher_is_better: bool
    epochs: int
    teacher_epochs: int
    batch_size: int
    learning_rate: float
    train_count: int | None = None
    heldout_count: int | None = None
    length: int | None = None


TASKS = {
    "segmentation": Task(
        "segmentation", "mean_iou", True, 12, 15, 32, 3e-3, train_count=3000, heldout_count=500
    ),
    "sequence": Task("sequence", "bits_per_character", False, 20, 30, 64, 3e-3, length=64),
}

# row -> (builder(student, teacher) -> distiller or None for the student alone, hyperparameters)
ROWS = {
    "segmentation": {
        "student_alone": (None, {}),
        "kd": (
            lambda s, t: distillers.KD(s, t, temperature=1.0, task_weight=1.0, kd_weight=1.0),
            {"T": 1, "ce": 1, "kd": 1, "per": "pixel"},
        ),
        "cwd": (
            lambda s, t: distillers.CWD(s, t, temperature=1.0, feature_weight=3.0),
            {"tau": 1, "ce": 1, "cwd": 3, "on": "logits"},
        ),
        "pkd": (
            lambda s, t: distillers.PKD(s, t, ["neck"], ["neck"], feature_weight=6.0),
            {"layers": "neck", "ce": 1, "pkd": 6},
        ),
    },
    "sequence": {
        "student_alone": (None, {}),
        "forward_kl": (
            lambda s, t: distillers.GKD(s, t, beta=0.0),
            {"beta": 0, "T": 1, "gkd": 1, "ce": 0},
        ),
        "reverse_kl": (
            lambda s, t: distillers.GKD(s, t, beta=1.0),
            {"beta": 1, "T": 1, "gkd": 1, "ce": 0},
        ),
        "jsd": (
            lambda s, t: distillers.GKD(s, t, beta=0.5),
            {"beta": 0.5, "T": 1, "gkd": 1, "ce": 0},
        ),
    },
}
MODELS = {
    "segmentation": (segmentation_teacher, segmentation_student),
    "sequence": (sequence_teacher, sequence_student),
}
