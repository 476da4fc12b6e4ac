"""
Title: Online and self-distillation: Deep Mutual Learning, ONE, BYOT and Born-Again networks
Author: keras_kd contributors
Date created: 2026/11/28
Last modified: 2026/11/28
Description: Distill without a pre-trained teacher, or from the network itself.
Accelerator: None
"""

"""
## Introduction

Not every distillation needs a trained teacher:

- **Deep Mutual Learning** trains peers together, each learning from the others.
- **ONE** builds branches on shared layers and distills from their gated ensemble.
- **BYOT** attaches early exits that learn from the deepest classifier; every
  exit is a standalone model for early-exit inference.
- **Born-Again networks** distill a model into a fresh copy of itself, over generations.

All four use `compile` / `fit`.

The rendered version of this example (`examples/md/online_and_self_distillation.md`) holds the output
of one run with these settings, after each code block, and names the machine
and the command in its header: those are the figures to expect.
"""

"""
## Setup
"""

import os
import tempfile

import keras

from keras_kd import data, distillers, models, pretrained
from keras_kd.evaluation import top1_accuracy

# KERAS_KD_EXAMPLE_SHORT=1 (the test suite's mode): 1 epoch on the first 256 training and
# 256 validation images, which only
# checks that the example runs. KERAS_KD_EXAMPLE_EPOCHS overrides the epochs.
SHORT = os.environ.get("KERAS_KD_EXAMPLE_SHORT") == "1"
EPOCHS = int(os.environ.get("KERAS_KD_EXAMPLE_EPOCHS", 1 if SHORT else 3))
TRAIN_IMAGES, VALIDATION_IMAGES = (256, 256) if SHORT else (5000, 1000)
train = data.batch_for_training(data.load("sample", "train").take(TRAIN_IMAGES), 64)
val = data.load("sample", "validation").take(VALIDATION_IMAGES).batch(250)

"""
## Deep Mutual Learning: two peers of different size
"""

keras.utils.set_random_seed(0)
dml = distillers.DeepMutualLearning(peers=[models.mlperf_tiny_resnet8(), models.resnet20()])
dml.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), metrics=["accuracy"])
dml.fit(train, epochs=EPOCHS, verbose=2)
print(dml.evaluate(val, return_dict=True, verbose=0))

"""
## ONE: three branches after `stage2`; deploy one
"""

keras.utils.set_random_seed(0)
one = distillers.ONE(models.mlperf_tiny_resnet8(), cut_layer="stage2", branches=3)
one.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), metrics=["accuracy"])
one.fit(train, epochs=EPOCHS, verbose=2)
print(f"ONE branch 0 as a plain model: {top1_accuracy(one.student, val):.2%}")

"""
## BYOT: exits after `stage1` and `stage2`
"""

keras.utils.set_random_seed(0)
byot = distillers.BYOT(
    models.mlperf_tiny_resnet8(), exit_layers=["stage1", "stage2"], deep_layer="stage3"
)
byot.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), metrics=["accuracy"])
byot.fit(train, epochs=EPOCHS, verbose=2)
for row in byot.exit_summary(val):
    print(
        f"exit {row['exit']} ({row['layer']}): {row['parameters']:,} parameters, {row['accuracy']:.2%}"
    )

"""
## Born-Again: two generations of ResNet-8 from the ResNet-20 teacher

Each finished generation is saved, so an interrupted run resumes at the next.
"""

ban = distillers.BornAgain(
    pretrained.load_teacher(),
    models.mlperf_tiny_resnet8,
    generations=2,
    directory=tempfile.mkdtemp(),
)
ban.compile(optimizer=lambda: keras.optimizers.SGD(0.05, momentum=0.9), metrics=["accuracy"])
ban.fit(train, epochs=EPOCHS, verbose=2)
for g, model in enumerate(ban.models, start=1):
    print(f"generation {g}: {top1_accuracy(model, val):.2%}")
print(f"BAN-E ensemble: {top1_accuracy(ban.ensemble(), val):.2%}")

"""
## What these figures say

Three epochs on 5,000 images show that each scheme trains and what each gives
back (peers, branches, exits, generations), not what it reaches: here the
first Born-Again generation is still far from its teacher, and the second
learns from that weaker model. The README's benchmark compares the schemes
under one 10-epoch protocol on 45,000 images (`dml`, `one`, `byot` against
`student_alone`, `born_again` against `resnet20_alone`).
"""
