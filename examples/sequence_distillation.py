"""
Title: Sequence distillation: forward KL, reverse KL and JSD on a masked character model
Author: keras_kd contributors
Date created: 2026/12/04
Last modified: 2026/12/04
Description: Distill a character-level GRU into a smaller one with GKD's three divergences, padding masked, and compare bits per character.
Accelerator: None
"""

"""
## Introduction

A language model predicts one token per position: its logits are
``(batch, T, vocabulary)``. keras_kd's logit terms average over the real
positions only: a Keras mask (``Embedding(mask_zero=True)``) or per-position
sample weights leave the padding out, counted over the whole batch.

`GKD` (generalized knowledge distillation) interpolates between the forward
KL ``KL(teacher || student)`` (``beta=0``, mass-covering), the reverse KL
``KL(student || teacher)`` (``beta=1``, mode-seeking) and the Jensen-Shannon
divergence in between (``beta=0.5``). keras_kd's GKD is offline: it
distills on the training text, not on the student's own generations.

The text is the docstrings of a fixed list of Python standard-library
modules (it ships with Python); held-out text comes from other modules.

The rendered version of this example (`examples/md/sequence_distillation.md`)
holds the output of one run, after each code block, and names the machine,
the command and the settings in its header: those are the figures to expect.
"""

"""
## Setup
"""

import os

import keras
import numpy as np

from keras_kd import distillers
from keras_kd.evaluation import bits_per_character
from keras_kd_cli.bench.sequence_data import PAD, VOCAB_SIZE, sequence_splits

# KERAS_KD_EXAMPLE_SHORT=1 (the test suite's mode): 1 epoch on 64 windows, which only
# checks that the example runs. KERAS_KD_EXAMPLE_EPOCHS overrides the epochs.
SHORT = os.environ.get("KERAS_KD_EXAMPLE_SHORT") == "1"
EPOCHS = int(os.environ.get("KERAS_KD_EXAMPLE_EPOCHS", 1 if SHORT else 8))
LENGTH, BATCH_SIZE = 64, 64

(x_train, y_train), (x_val, y_val), digest = sequence_splits(LENGTH)
if SHORT:
    x_train, y_train, x_val, y_val = x_train[:64], y_train[:64], x_val[:32], y_val[:32]
print("windows:", x_train.shape, "held out:", x_val.shape, "corpus digest:", digest)
print(f"padding: {np.mean(x_train == PAD):.2%} of the training positions")

"""
## Teacher and student

Token id 0 is padding: `Embedding(mask_zero=True)` makes a Keras mask that
the GRU and the output layer carry, and the distillers read it.
"""


def language_model(name, embedding, units):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((LENGTH,), dtype="int32")
    h = keras.layers.Embedding(VOCAB_SIZE, embedding, mask_zero=True)(inputs)
    h = keras.layers.GRU(units, return_sequences=True)(h)
    return keras.Model(inputs, keras.layers.Dense(VOCAB_SIZE)(h), name=name)


def bpc(model):
    return bits_per_character(model.predict(x_val, verbose=0), y_val, mask=y_val != PAD)


loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
teacher = language_model("teacher", 48, 256)
teacher.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss)
teacher.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=2 * EPOCHS, verbose=2)
print(f"teacher: {teacher.count_params():,} parameters, {bpc(teacher):.3f} bits per character")

"""
## The student alone, and with each divergence

GKD's default is the divergence alone (``task_weight=0``), as TRL's
`GKDTrainer`; the labels then only decide which positions are real.
"""

alone = language_model("student", 16, 64)
alone.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss)
alone.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=2)
results = {"student alone": bpc(alone)}

for name, beta in [("forward KL", 0.0), ("JSD", 0.5), ("reverse KL", 1.0)]:
    distiller = distillers.GKD(language_model("student", 16, 64), teacher, beta=beta)
    distiller.compile(optimizer=keras.optimizers.Adam(3e-3))
    distiller.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=2)
    results[f"{name} (beta={beta})"] = bpc(distiller.student)

for name, value in results.items():
    print(f"{name:<22} {value:.3f} bits per character")

"""
## Per-position sample weights instead of a mask

A model without a Keras mask can pass the padding as per-position sample
weights, ``(batch, T)``: 1 for a real position, 0 for padding.
"""

unmasked = keras.Sequential(
    [
        keras.Input((LENGTH,), dtype="int32"),
        keras.layers.Embedding(VOCAB_SIZE, 16),
        keras.layers.GRU(64, return_sequences=True),
        keras.layers.Dense(VOCAB_SIZE),
    ]
)
weights = (y_train != PAD).astype("float32")
distiller = distillers.GKD(unmasked, teacher, beta=0.5)
distiller.compile(optimizer=keras.optimizers.Adam(3e-3))
distiller.fit(x_train, y_train, sample_weight=weights, batch_size=BATCH_SIZE, epochs=1, verbose=2)
print(f"JSD with sample weights, 1 epoch: {bpc(distiller.student):.3f} bits per character")
