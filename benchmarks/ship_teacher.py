"""Copies the trained benchmark teacher into the package as the demo teacher.

Run: ``python benchmarks/ship_teacher.py`` (after ``benchmarks/train_teacher.py``)

Writes ``keras_kd/pretrained/cifar10-resnet20.keras``: the same weights in a
freshly built, uncompiled ResNet-20 (no optimizer state), plus a JSON record
of where it came from.
"""

import json
import os
import shutil

import keras

from keras_kd import models
from keras_kd._io import save_model_atomically

SOURCE = "benchmarks/results/teacher-resnet20.keras"
TARGET = "keras_kd/pretrained/cifar10-resnet20.keras"


def main():
    trained = keras.saving.load_model(SOURCE)
    plain = models.resnet20()
    plain.set_weights(trained.get_weights())
    save_model_atomically(plain, TARGET)
    shutil.copy(SOURCE.replace(".keras", ".json"), TARGET.replace(".keras", ".json"))
    print(f"{TARGET}: {os.path.getsize(TARGET):,} bytes")
    print(json.load(open(TARGET.replace(".keras", ".json"))))


if __name__ == "__main__":
    main()
