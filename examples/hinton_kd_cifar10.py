"""
Title: Hinton knowledge distillation of a microcontroller-sized CIFAR-10 student
Author: keras_kd contributors
Date created: 2026/11/28
Last modified: 2026/11/28
Description: Distill a ResNet-20 teacher into the MLPerf Tiny ResNet-8 with `keras_kd.distillers.KD`.
Accelerator: None
"""

"""
## Introduction

Knowledge distillation (Hinton et al., 2015) trains a small *student* to match
the softened predictions of a large *teacher* as well as the labels. With
`keras_kd`, the teacher and the student are plain Keras models; the distiller
is a `keras.Model` whose `train_step` implements the method, so training is
the usual `compile` / `fit`.

This example runs offline on the CIFAR-10 sample shipped with `keras_kd`
(5,000 training and 1,000 validation images) and the ResNet-20 teacher shipped
with it.

The rendered version of this example (`examples/md/hinton_kd_cifar10.md`) holds the output
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
EPOCHS = int(os.environ.get("KERAS_KD_EXAMPLE_EPOCHS", 1 if SHORT else 10))
TRAIN_IMAGES, VALIDATION_IMAGES = (256, 256) if SHORT else (5000, 1000)
BATCH_SIZE = 64

"""
## Data

Images are RGB values in 0..255; every reference model standardizes them
itself, so a saved model takes images as stored.
"""

train = data.batch_for_training(data.load("sample", "train").take(TRAIN_IMAGES), BATCH_SIZE)
val = data.load("sample", "validation").take(VALIDATION_IMAGES).batch(250)
steps = math.ceil(TRAIN_IMAGES / BATCH_SIZE) * EPOCHS

"""
## Teacher and student

The teacher must output logits (no softmax): the distiller applies the
temperature itself and rejects models that end in a softmax.
"""

teacher = pretrained.load_teacher()
print(f"teacher: {teacher.count_params():,} parameters, {top1_accuracy(teacher, val):.2%}")

"""
## The student alone
"""

keras.utils.set_random_seed(0)
alone = models.mlperf_tiny_resnet8()
alone.compile(
    optimizer=recipes.cifar_sgd(0.05, steps),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
alone.fit(train, epochs=EPOCHS, verbose=2, shuffle=False)

"""
## The same student, distilled

`task_weight` weighs the cross-entropy on the labels and `kd_weight` the
`T^2`-scaled KL divergence between the softened predictions (RepDistiller's
CIFAR settings: T = 4, 0.1 and 0.9). Each term is logged on its own.
"""

keras.utils.set_random_seed(0)
student = models.mlperf_tiny_resnet8()
distiller = distillers.KD(
    student=student, teacher=teacher, temperature=4.0, task_weight=0.1, kd_weight=0.9
)
distiller.compile(optimizer=recipes.cifar_sgd(0.05, steps), metrics=["accuracy"])
distiller.fit(train, epochs=EPOCHS, validation_data=val, verbose=2)

"""
## Results and deployment

`distiller.student` is the plain Keras model to deploy: it holds no teacher
weights and loads without keras_kd.
"""

print(f"student alone:     {top1_accuracy(alone, val):.2%}")
print(f"student distilled: {top1_accuracy(distiller.student, val):.2%}")
distiller.student.save("kd-student.keras")
