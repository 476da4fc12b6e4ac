"""
Title: Segmentation distillation: per-pixel KD and channel-wise distillation, down to int8
Author: keras_kd contributors
Date created: 2026/12/04
Last modified: 2026/12/04
Description: Distill an encoder-decoder teacher into an MCU-sized segmenter with per-pixel KD and CWD, measure mean IoU, and export to int8.
Accelerator: None
"""

"""
## Introduction

A segmentation model predicts one class per pixel: its logits are
``(batch, H, W, classes)``. keras_kd's logit terms take such logits as they
are: per-pixel KD averages the KL divergence over every pixel, and CWD
(channel-wise distillation) turns each class's score map into a distribution
over the pixels and matches those. The task term is the model's own
``compile(loss=...)``, or the per-pixel cross-entropy.

The data are built offline from the embedded CIFAR-10 sample: objects cut
out with an elliptical mask and pasted onto 64x64 canvases tiled from other
images' corners, each pixel labelled with its object's class + 1 (0 is the
background). Held-out canvases use only the sample's validation images.

The rendered version of this example (`examples/md/segmentation_distillation.md`)
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
from keras_kd.evaluation import mean_iou
from keras_kd.export import to_tflite
from keras_kd_cli.bench.segmentation_data import NUM_CLASSES, build_canvases, load_images

# KERAS_KD_EXAMPLE_SHORT=1 (the test suite's mode): 1 epoch on 64 canvases, which only
# checks that the example runs. KERAS_KD_EXAMPLE_EPOCHS overrides the epochs.
SHORT = os.environ.get("KERAS_KD_EXAMPLE_SHORT") == "1"
EPOCHS = int(os.environ.get("KERAS_KD_EXAMPLE_EPOCHS", 1 if SHORT else 6))
TRAIN_CANVASES, HELDOUT_CANVASES = (64, 32) if SHORT else (1500, 300)
BATCH_SIZE = 32
OUT = os.environ.get("KERAS_KD_EXAMPLE_OUT", "segmentation-output")

x_train, y_train = build_canvases(*load_images("sample", "train", 600), TRAIN_CANVASES, seed=0)
x_val, y_val = build_canvases(*load_images("sample", "validation", 300), HELDOUT_CANVASES, seed=1)
print("canvases:", x_train.shape, "labels:", y_train.shape, "classes:", NUM_CLASSES)
print("background pixels:", f"{np.mean(y_train == 0):.1%}")

"""
## Teacher and student

Both are functional models that end in per-pixel logits (no softmax). The
student upsamples with one transposed convolution and a bilinear resize:
Keras's `UpSampling2D` becomes a TILE op, which TFLite-Micro cannot run.
BatchNorm momentum 0.9 (Keras's default is 0.99) lets the moving statistics
keep up over a few hundred steps; at 0.99 a short run predicts background
everywhere in inference mode.
"""


def block(h, filters, strides=1, separable=False):
    layer = keras.layers.SeparableConv2D if separable else keras.layers.Conv2D
    h = layer(filters, 3, strides=strides, padding="same", use_bias=False)(h)
    return keras.layers.ReLU()(keras.layers.BatchNormalization(momentum=0.9)(h))


def up(h, filters):
    h = keras.layers.Conv2DTranspose(filters, 3, strides=2, padding="same", use_bias=False)(h)
    return keras.layers.ReLU()(keras.layers.BatchNormalization(momentum=0.9)(h))


def make_teacher():
    inputs = keras.Input((64, 64, 3))
    h = block(keras.layers.Rescaling(1 / 255)(inputs), 32)
    skip = block(h, 48, strides=2)
    h = block(block(skip, 96, strides=2), 96)
    h = block(keras.layers.Concatenate()([up(h, 48), skip]), 48)
    outputs = keras.layers.Conv2D(NUM_CLASSES, 1)(up(h, 32))
    return keras.Model(inputs, outputs, name="teacher")


def make_student():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((64, 64, 3))
    h = block(keras.layers.Rescaling(1 / 255)(inputs), 16, strides=2)
    h = block(block(h, 32, strides=2, separable=True), 32, separable=True)
    h = keras.layers.Conv2D(NUM_CLASSES, 1)(up(h, 16))
    outputs = keras.layers.Resizing(64, 64, interpolation="bilinear")(h)
    return keras.Model(inputs, outputs, name="student")


def iou(model):
    return mean_iou(y_val, model.predict(x_val, verbose=0).argmax(-1), NUM_CLASSES)


loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
keras.utils.set_random_seed(0)
teacher = make_teacher()
teacher.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss)
teacher.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=2 * EPOCHS, verbose=2)
print(f"teacher: {teacher.count_params():,} parameters, mean IoU {iou(teacher):.3f}")

"""
## The student alone, then distilled

`compile(loss=...)` sets the task term; any Keras loss that takes per-pixel
labels works (here the same cross-entropy the student alone trains on).
"""

alone = make_student()
alone.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss)
alone.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=2)

results = {"student alone": iou(alone)}
methods = {
    "per-pixel KD": lambda s: distillers.KD(s, teacher, temperature=1.0, kd_weight=1.0),
    "CWD": lambda s: distillers.CWD(s, teacher, temperature=1.0, feature_weight=3.0),
}
students = {}
for name, build in methods.items():
    distiller = build(make_student())
    distiller.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss)
    distiller.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=2)
    students[name] = distiller.student
    results[name] = iou(distiller.student)

for name, value in results.items():
    print(f"{name:<14} mean IoU {value:.3f}")

"""
## int8 export, checked per pixel

`to_tflite` checks a segmenter per pixel: the labels are one class per
pixel, agreement and accuracy count pixels, and the report adds the mean IoU
in Keras, LiteRT and TFLite-Micro.
"""

best = max(students, key=lambda name: results[name])
report = to_tflite(
    students[best],
    os.path.join(OUT, "segmenter-int8.tflite"),
    quantization="int8",
    representative_data=x_train[:200].astype("float32"),
    check_data=(x_val.astype("float32"), y_val),
    min_agreement=None,
    verbose=0,
)
print(best)
print(report.as_table())
