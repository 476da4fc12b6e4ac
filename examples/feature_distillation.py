"""
Title: Feature-based distillation: FitNets, attention, NST, RKD, and the two-stage AB, FSP and FT
Author: keras_kd contributors
Date created: 2026/11/28
Last modified: 2026/11/28
Description: Tap intermediate layers by name and distill them with every feature method in keras_kd.
Accelerator: None
"""

"""
## Introduction

Feature-based methods match what happens *inside* the networks. keras_kd taps
layers **by name** through one multi-output functional submodel per network
(`keras_kd.features.build_feature_extractor`), so each network still runs once
per step and the user's models are never edited.

The reference models name their stage outputs `stage1`..`stage3`, the sums
before the last ReLU of each stage `stage{i}_preact`, and the pooled vector
`pool`. The ResNet-20 teacher and the ResNet-8 student share channel counts
(16/32/64), which FSP needs.

The rendered version of this example (`examples/md/feature_distillation.md`) holds the output
of one run with these settings, after each code block, and names the machine
and the command in its header: those are the figures to expect.
"""

"""
## Setup
"""

import math
import os

import keras

from keras_kd import data, distillers, models, pretrained, recipes
from keras_kd.evaluation import top1_accuracy

# KERAS_KD_EXAMPLE_SHORT=1 (the test suite's mode): 1 epoch on the first 256 training and
# 256 validation images, which only
# checks that the example runs. KERAS_KD_EXAMPLE_EPOCHS overrides the epochs.
SHORT = os.environ.get("KERAS_KD_EXAMPLE_SHORT") == "1"
EPOCHS = int(os.environ.get("KERAS_KD_EXAMPLE_EPOCHS", 1 if SHORT else 4))
TRAIN_IMAGES, VALIDATION_IMAGES = (256, 256) if SHORT else (5000, 1000)
BATCH_SIZE = 64
STAGES = ["stage1", "stage2", "stage3"]

train = data.batch_for_training(data.load("sample", "train").take(TRAIN_IMAGES), BATCH_SIZE)
val = data.load("sample", "validation").take(VALIDATION_IMAGES).batch(250)
teacher = pretrained.load_teacher()


def optimizer(epochs):
    return recipes.cifar_sgd(0.05, math.ceil(TRAIN_IMAGES / BATCH_SIZE) * epochs)


def fresh_student():
    keras.utils.set_random_seed(0)
    return models.mlperf_tiny_resnet8()


"""
## One-stage methods

Each adds its term to the cross-entropy with the weight RepDistiller uses on
CIFAR. Weights are free non-negative floats (AT's beta is 1000).
"""

one_stage = {
    "FitNet (hint on stage2)": lambda s: distillers.FitNet(
        student=s, teacher=teacher, student_layers=["stage2"], teacher_layers=["stage2"]
    ),
    "AT (activation)": lambda s: distillers.AttentionTransfer(
        student=s, teacher=teacher, student_layers=STAGES, teacher_layers=STAGES
    ),
    "NST": lambda s: distillers.NST(
        student=s, teacher=teacher, student_layers=["stage3"], teacher_layers=["stage3"]
    ),
    "RKD (on pool)": lambda s: distillers.RKD(
        student=s, teacher=teacher, student_layers=["pool"], teacher_layers=["pool"]
    ),
}
results = {}
for name, build in one_stage.items():
    distiller = build(fresh_student())
    distiller.compile(optimizer=optimizer(EPOCHS), metrics=["accuracy"])
    distiller.fit(train, epochs=EPOCHS, verbose=2)
    results[name] = top1_accuracy(distiller.student, val)

"""
## Two-stage methods

Activation boundaries, FSP and factor transfer first run an initialization
stage (the student's lower layers, or the teacher's paraphraser), then train
on the task. `fit` runs the init stage by itself first, for `init_epochs`
epochs (RepDistiller runs 30; one here), then the main stage. `fit_stages`
gives full control (a fresh optimizer per stage, for instance).
"""

two_stage = {
    "AB": lambda s: distillers.ActivationBoundary(
        student=s,
        teacher=teacher,
        student_layers=[f"{x}_preact" for x in STAGES],
        teacher_layers=[f"{x}_preact" for x in STAGES],
        init_epochs=1,
    ),
    "FSP": lambda s: distillers.FSP(
        student=s, teacher=teacher, student_layers=STAGES, teacher_layers=STAGES, init_epochs=1
    ),
    "FT": lambda s: distillers.FactorTransfer(
        student=s,
        teacher=teacher,
        student_layers=["stage3"],
        teacher_layers=["stage3"],
        init_epochs=1,
    ),
}
for name, build in two_stage.items():
    distiller = build(fresh_student())
    distiller.compile(optimizer=optimizer(EPOCHS), metrics=["accuracy"])
    distiller.fit(train, epochs=EPOCHS, verbose=2)
    results[name] = top1_accuracy(distiller.student, val)

"""
## Results

A few epochs on 5,000 images only show that every method trains; see the
benchmark in the README for the comparison under one protocol.
"""

for name, accuracy in results.items():
    print(f"{name:<28} {accuracy:.2%}")
