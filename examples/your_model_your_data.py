"""
Title: Your model, your data: an image folder, a keras.applications teacher and your own student
Author: keras_kd contributors
Date created: 2026/11/28
Last modified: 2026/11/28
Description: Load an image folder, pick the layers to tap, distill a MobileNetV2 teacher into a small Sequential student with KD and attention transfer, evaluate, and export int8.
Accelerator: None
"""

"""
## Introduction

The other examples use the reference models and the CIFAR-10 sample as they
ship. This one goes through the steps with your own pieces:

1. a folder of images, one subfolder per class;
2. a `keras.applications` teacher (MobileNetV2) that outputs logits, trained at
   its own resolution (64x64 here) while the student works at the images'
   (32x32);
3. your own small `Sequential` student;
4. picking the layers to tap from their names and shapes;
5. distilling with KD, then KD plus attention transfer, against the student
   trained alone;
6. exporting the distilled student to a checked int8 TFLite file.

Nothing is downloaded. The image folder is written here from three classes of
the CIFAR-10 sample shipped with keras_kd, and the teacher is trained here
from scratch for a few epochs (`weights=None`), so it is a weak teacher: you
would bring a teacher trained on your data (or fine-tuned from ImageNet
weights) instead, and skip that step. The guide
"Your model, your data" (`docs/guides/your-model-your-data.md`) explains each
choice at more length.

The figures in the rendered version of this example
(`examples/md/your_model_your_data.md`) are those
one run printed; its header names the machine and the command.
"""

"""
## Setup
"""

import math
import os

import keras
import numpy as np
import tensorflow as tf

from keras_kd import data, distillers, recipes
from keras_kd.evaluation import top1_accuracy
from keras_kd.export import to_tflite
from keras_kd.features import tappable_layers

# KERAS_KD_EXAMPLE_SHORT=1 (the test suite's mode): 1 epoch for every model on 30 images
# per class, which only checks that the example runs. KERAS_KD_EXAMPLE_EPOCHS overrides
# the students' epochs (the teacher trains twice as long).
SHORT = os.environ.get("KERAS_KD_EXAMPLE_SHORT") == "1"
EPOCHS = int(os.environ.get("KERAS_KD_EXAMPLE_EPOCHS", 1 if SHORT else 12))
TEACHER_EPOCHS = 1 if SHORT else 2 * EPOCHS
IMAGES_PER_CLASS = 30 if SHORT else None  # None: every sample image of the class
OUT = os.environ.get("KERAS_KD_EXAMPLE_OUT", "your-model-output")
FOLDER = os.path.join(OUT, "my-images")
CLASSES = ("airplane", "automobile", "frog")
STUDENT_SIZE, TEACHER_SIZE = (32, 32), (64, 64)
BATCH_SIZE = 32

"""
## An image folder

`data.load` reads `FOLDER/<class>/<image>` (.jpg, .jpeg, .png, .gif, .bmp).
Here the folder is written from the sample's training and validation images
of three classes, as PNG files.
"""

written = dict.fromkeys(CLASSES, 0)
for split in ("train", "validation"):
    for image, label in data.load("sample", split).as_numpy_iterator():
        name = data.CIFAR10_CLASSES[label]
        if name not in written or written[name] == IMAGES_PER_CLASS:
            continue
        os.makedirs(os.path.join(FOLDER, name), exist_ok=True)
        png = tf.io.encode_png(image.astype(np.uint8)).numpy()
        with open(os.path.join(FOLDER, name, f"{split}-{written[name]:04d}.png"), "wb") as f:
            f.write(png)
        written[name] += 1
print(f"wrote {sum(written.values()):,} images: {written}")

"""
Labels are the indices of the sorted class-folder names. `"validation"` is the
last `validation_split` of the images after one seeded shuffle and `"train"`
the rest; `image_size` resizes on loading. The student's batches come at 32x32
and the teacher's own training set at 64x64.
"""

classes = sorted(os.listdir(FOLDER))
train = data.load(FOLDER, "train", image_size=STUDENT_SIZE, validation_split=0.2).cache()
val = data.load(FOLDER, "validation", image_size=STUDENT_SIZE, validation_split=0.2).cache()
print(f"classes {classes}: {len(list(train))} training and {len(list(val))} validation images")
train_batches = data.batch_for_training(train, BATCH_SIZE)
val_batches = val.batch(256)
steps_per_epoch = math.ceil(len(list(train)) / BATCH_SIZE)

"""
## The teacher: a `keras.applications` network

A `keras.applications` network ends in a softmax unless
`classifier_activation=None`: keras_kd needs logits and refuses probabilities.
Its input scaling (MobileNetV2 takes [-1, 1]) goes in front through
`input_tensor`, so the teacher is one functional model from raw pixels to
logits whose every layer can be tapped by name.

Trained from scratch on a few hundred images, MobileNetV2's BatchNormalization
layers (momentum 0.999) would still hold mostly their initial statistics after
a few hundred steps; a lower momentum lets them settle. A teacher you bring,
already trained, needs none of this block: load it, check its accuracy, go on.
"""

keras.utils.set_random_seed(0)
pixels = keras.Input((*TEACHER_SIZE, 3))
scaled = keras.layers.Rescaling(1 / 127.5, offset=-1)(pixels)
teacher = keras.applications.MobileNetV2(
    input_tensor=scaled,
    alpha=0.35,
    weights=None,
    classes=len(classes),
    classifier_activation=None,
    name="mobilenetv2_teacher",
)
for layer in teacher.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
        layer.momentum = 0.9
teacher_train = data.load(FOLDER, "train", image_size=TEACHER_SIZE, validation_split=0.2)
teacher_val = data.load(FOLDER, "validation", image_size=TEACHER_SIZE, validation_split=0.2)
teacher.compile(
    optimizer=keras.optimizers.Adam(2e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
teacher.fit(data.batch_for_training(teacher_train, BATCH_SIZE), epochs=TEACHER_EPOCHS, verbose=2)
teacher_accuracy = top1_accuracy(teacher, teacher_val.batch(256))
print(f"teacher {teacher.name}: {teacher.count_params():,} parameters, {teacher_accuracy:.2%}")

"""
## Your student

Any functional or `Sequential` model ending in logits, with its input scaling
inside (the exported model then takes raw pixels). Named layers are the ones
you can ask for by name later.
"""


def small_cnn():
    layers = [keras.Input((*STUDENT_SIZE, 3)), keras.layers.Rescaling(1 / 255, name="scale")]
    for i, (filters, stride) in enumerate([(16, 1), (32, 2), (64, 2)], start=1):
        layers += [
            keras.layers.Conv2D(filters, 3, stride, "same", use_bias=False, name=f"conv{i}"),
            keras.layers.BatchNormalization(name=f"bn{i}"),
            keras.layers.ReLU(name=f"block{i}"),
        ]
    layers += [
        keras.layers.GlobalAveragePooling2D(name="pool"),
        keras.layers.Dense(len(classes), name="logits"),
    ]
    return keras.Sequential(layers, name="student")


"""
## Which layers to tap

`tappable_layers(model)` lists the layers a distiller can tap, with their
output shapes. Attention transfer compares maps of the same height and width
(or sizes that divide), so for each student block, list the teacher's
expansion activations of the same size:
"""

student_layers = ["block1", "block2", "block3"]
teacher_layers = []
teacher_shapes = {name: shape for name, shape, _ in tappable_layers(teacher)}
for name, shape, kind in tappable_layers(small_cnn()):
    print(f"student {name:8} {str(shape):14} {kind}")
    if name in student_layers:
        same_size = [
            t
            for t, s in teacher_shapes.items()
            if t.endswith("expand_relu") and len(s) == 3 and s[:2] == shape[:2]
        ]
        print(f"    teacher layers of the same size: {same_size}")
        teacher_layers.append(same_size[-1])
print(f"pairs: {list(zip(student_layers, teacher_layers, strict=True))}")

"""
Pair the end of each student block with the end of the teacher's stage of the
same size (the deepest layer listed), from shallow to deep. The teacher sees 64x64
images, twice the student's size: `teacher_input` resizes each student batch
before the teacher, so its 32x32 maps line up with the student's first block.

## The student alone, then distilled

Every run starts from a fresh student with the same initialization and the same
recipe (SGD, cosine schedule). The student alone is the number to beat.
"""


def fit(model, **compile_args):
    model.compile(
        optimizer=recipes.cifar_sgd(0.05, steps_per_epoch * EPOCHS),
        metrics=["accuracy"],
        **compile_args,
    )
    model.fit(train_batches, epochs=EPOCHS, verbose=2)


def fresh_student():
    keras.utils.set_random_seed(1)
    return small_cnn()


alone = fresh_student()
fit(alone, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

resize_for_teacher = keras.layers.Resizing(*TEACHER_SIZE)
kd = distillers.KD(
    student=fresh_student(),
    teacher=teacher,
    temperature=4.0,
    task_weight=0.1,
    kd_weight=0.9,
    teacher_input=resize_for_teacher,
)
fit(kd)

at_kd = distillers.AttentionTransfer(
    student=fresh_student(),
    teacher=teacher,
    student_layers=student_layers,
    teacher_layers=teacher_layers,
    task_weight=0.1,
    kd_weight=0.9,
    teacher_input=resize_for_teacher,
)
fit(at_kd)

"""
## Evaluate

`distiller.student` is your `small_cnn`, trained, with no teacher inside.
"""

results = {
    "teacher (MobileNetV2, 64x64)": (teacher.count_params(), teacher_accuracy),
    "student alone": (alone.count_params(), top1_accuracy(alone, val_batches)),
    "student, KD": (kd.student.count_params(), top1_accuracy(kd.student, val_batches)),
    "student, AT + KD": (at_kd.student.count_params(), top1_accuracy(at_kd.student, val_batches)),
}
print(f"{'model':<30} {'params':>9} {'val acc':>8}")
for name, (params, accuracy) in results.items():
    print(f"{name:<30} {params:>9,} {accuracy:>8.2%}")
validation_size = len(list(val))
p = results["student alone"][1]
print(
    f"one accuracy on {validation_size} validation images has a standard error of about "
    f"{100 * math.sqrt(p * (1 - p) / validation_size):.1f} points"
)

"""
Differences between the students smaller than about twice that standard error
are within the noise of one run. The teacher here was trained for a few epochs
on a few hundred images per class, so this run shows the workflow, not what distillation
gains with a good teacher: the README's benchmarks measure that.

## Export to int8

The KD student goes to a full-integer TFLite file, calibrated on two batches of
training images and checked in LiteRT and TFLite-Micro on the validation
images.
"""

report = to_tflite(
    kd.student,
    os.path.join(OUT, "student-int8.tflite"),
    quantization="int8",
    representative_data=train.batch(100).take(2),
    check_data=val_batches,
)
print(report.as_table())
