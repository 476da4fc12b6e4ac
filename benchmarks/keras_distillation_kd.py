"""keras.distillation's KD on exactly the benchmark's CIFAR-10 protocol.

Run: ``python benchmarks/keras_distillation_kd.py \\
    --data ../shared/data/cifar10/cifar10-train.tfrecord.gz``

Same teacher, student initialization (seed 0), batches, optimizer and schedule
as the ``kd`` row of ``keras-kd bench``; the loss is keras.distillation's ``LogitsDistillation`` at
temperature 4 with a ``keras.losses.KLDivergence()`` instance and student
loss weight 0.1, the correct use REFERENCES.md names. It tells a
recipe difference from a keras_kd bug when comparing with REFERENCES.md's figure.
Writes ``benchmarks/results/cifar10/keras_distillation_kd.json``.
"""

import argparse
import json
import math
import os
import platform
import time

import keras

from keras_kd import data
from keras_kd._io import write_json_atomically
from keras_kd.evaluation import top1_accuracy
from keras_kd_cli.bench.protocols import PROTOCOLS
from keras_kd_cli.bench.runner import SEED

PROTOCOL = PROTOCOLS["cpu"]
EPOCHS = PROTOCOL.epochs
BATCH_SIZE = PROTOCOL.batch_size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--teacher", default="benchmarks/results/teacher-resnet20.keras")
    parser.add_argument("--out", default="benchmarks/results/cifar10/keras_distillation_kd.json")
    args = parser.parse_args()
    teacher = keras.saving.load_model(args.teacher)
    train_raw = data.load(args.data, "train").cache()
    train = data.batch_for_training(train_raw, BATCH_SIZE, seed=SEED)
    val = data.load(args.data, "validation").batch(250).cache()
    steps = math.ceil(int(train_raw.cardinality()) / BATCH_SIZE)
    keras.utils.set_random_seed(SEED)
    distiller = keras.distillation.Distiller(
        teacher=teacher,
        student=PROTOCOL.build_student(),
        distillation_losses=[
            keras.distillation.LogitsDistillation(temperature=4.0, loss=keras.losses.KLDivergence())
        ],
        student_loss_weight=0.1,
    )
    distiller.compile(
        optimizer=PROTOCOL.optimizer(PROTOCOL.learning_rate, EPOCHS, steps),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.time()
    distiller.fit(train, epochs=EPOCHS, verbose=2, shuffle=False)
    record = {
        "method": "keras.distillation KD (T=4, KLDivergence(), student weight 0.1)",
        "epochs": EPOCHS,
        "batch_size": BATCH_SIZE,
        "learning_rate": PROTOCOL.learning_rate,
        "seconds": round(time.time() - start, 1),
        "validation_accuracy": top1_accuracy(distiller.student, val),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "command": "python benchmarks/keras_distillation_kd.py --data <cifar10-train.tfrecord.gz>",
    }
    write_json_atomically(record, args.out)
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
