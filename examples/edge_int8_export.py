"""
Title: From teacher to microcontroller: distill, quantize to int8, run on TFLite-Micro
Author: keras_kd contributors
Date created: 2026/11/28
Last modified: 2026/11/28
Description: Export a distilled student in four TFLite modes, check it in LiteRT and TFLite-Micro, and try quantization-aware distillation.
Accelerator: None
"""

"""
## Introduction

A distilled student is only useful once it runs on the device.
`keras_kd.export.to_tflite` converts with TFLite built-in ops only (no Flex
ops, which microcontrollers cannot run), with a batch-1 signature, then runs
the file in the LiteRT interpreter and, for full int8, in the TFLite-Micro
interpreter, and reports size, arena bytes and accuracy next to Keras.

Quantization-aware distillation then fine-tunes a fake-quantized copy of the
student with the teacher still teaching, and exports it the same way.

The rendered version of this example (`examples/md/edge_int8_export.md`) holds the output
of one run with these settings, after each code block, and names the machine
and the command in its header: those are the figures to expect.
"""

"""
## Setup
"""

import math
import os

import keras

from keras_kd import data, distillers, models, pretrained, quantization, recipes
from keras_kd.evaluation import top1_accuracy
from keras_kd.export import to_tflite

# KERAS_KD_EXAMPLE_SHORT=1 (the test suite's mode): 1 epoch on the first 256 training and
# 256 validation images, which only
# checks that the example runs. KERAS_KD_EXAMPLE_EPOCHS overrides the epochs.
SHORT = os.environ.get("KERAS_KD_EXAMPLE_SHORT") == "1"
EPOCHS = int(os.environ.get("KERAS_KD_EXAMPLE_EPOCHS", 1 if SHORT else 12))
QAT_EPOCHS = max(1, EPOCHS // 4)
TRAIN_IMAGES, VALIDATION_IMAGES = (256, 256) if SHORT else (5000, 1000)
BATCH_SIZE = 64
OUT = os.environ.get("KERAS_KD_EXAMPLE_OUT", "edge-output")

train_raw = data.load("sample", "train").take(TRAIN_IMAGES)
train = data.batch_for_training(train_raw, BATCH_SIZE)
val = data.load("sample", "validation").take(VALIDATION_IMAGES).batch(250)
calibration = train_raw.batch(100).take(2)
teacher = pretrained.load_teacher()
steps = math.ceil(TRAIN_IMAGES / BATCH_SIZE)

"""
## Distill the student
"""

keras.utils.set_random_seed(0)
student = models.mlperf_tiny_resnet8()
distiller = distillers.KD(student=student, teacher=teacher)
distiller.compile(optimizer=recipes.cifar_sgd(0.05, steps * EPOCHS), metrics=["accuracy"])
distiller.fit(train, epochs=EPOCHS, verbose=2)

"""
## Export in the four modes

Dynamic-range and float16 files do not load in TFLite-Micro; full int8 does.
"""

reports = {}
for mode in (None, "float16", "dynamic", "int8"):
    path = os.path.join(OUT, f"student-{mode or 'float32'}.tflite")
    reports[mode or "float32"] = to_tflite(
        distiller, path, quantization=mode, representative_data=calibration, check_data=val
    )
print(reports["int8"].as_table())

"""
## Quantization-aware distillation

Fine-tune a fake-quantized copy (int8 per-channel weights, 8-bit activation
ranges) with the teacher, at a low learning rate, then copy its weights into
the float architecture and convert to int8 as before.
"""

qat_student = quantization.quantization_aware(student)
qat = distillers.KD(student=qat_student, teacher=teacher)
qat.compile(optimizer=recipes.cifar_sgd(0.005, steps * QAT_EPOCHS), metrics=["accuracy"])
qat.fit(train, epochs=QAT_EPOCHS, verbose=2)
deployable = quantization.float_weights(qat_student, models.mlperf_tiny_resnet8())
reports["int8 after QAT"] = to_tflite(
    deployable,
    os.path.join(OUT, "student-int8-qat.tflite"),
    quantization="int8",
    representative_data=calibration,
    check_data=val,
)

"""
## Summary
"""

print(f"\nKeras float student: {top1_accuracy(student, val):.2%}")
print(f"{'file':<16} {'bytes':>9} {'LiteRT acc':>11} {'Micro acc':>10} {'arena':>8}")
for name, r in reports.items():
    micro = "-" if r.micro_accuracy is None else f"{r.micro_accuracy:.2%}"
    arena = "-" if r.arena_bytes is None else f"{r.arena_bytes:,}"
    print(f"{name:<16} {r.size_bytes:>9,} {r.litert_accuracy:>11.2%} {micro:>10} {arena:>8}")
