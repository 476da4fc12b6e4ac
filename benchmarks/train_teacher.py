"""Trains the benchmark teacher (CIFAR ResNet-20) on the shared CIFAR-10 split.

Run: ``python benchmarks/train_teacher.py --data ../shared/data/cifar10/cifar10-train.tfrecord.gz``

Protocol (REFERENCES.md): first 45,000 records train, last 5,000 validate;
pad-4 crop + flip; SGD Nesterov 0.9, lr 0.1 cosine to 0, weight decay 5e-4,
batch 128, 12 epochs. Resumable: progress is kept by
`keras.callbacks.BackupAndRestore` under ``--out``; the finished model is
written to ``--out/teacher-resnet20.keras`` with a JSON record beside it.
"""

import argparse
import json
import math
import os
import platform
import time

import keras

from keras_kd import data, models, recipes

EPOCHS = 12
BATCH_SIZE = 128
LEARNING_RATE = 0.1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="cifar10-train.tfrecord.gz")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    final = os.path.join(args.out, "teacher-resnet20.keras")
    if os.path.exists(final):
        print(f"{final} exists; nothing to do")
        return
    keras.utils.set_random_seed(0)
    train = data.batch_for_training(
        data.load_cifar10_split(args.data, "train"), BATCH_SIZE, augment=True
    )
    val = data.load_cifar10_split(args.data, "validation").batch(500)
    steps = math.ceil(data.cifar10.SHARED_TRAIN_SIZE / BATCH_SIZE) * args.epochs
    model = models.resnet20()
    model.compile(
        optimizer=recipes.cifar_sgd(LEARNING_RATE, steps),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    backup = keras.callbacks.BackupAndRestore(os.path.join(args.out, "teacher-backup"))
    start = time.time()
    model.fit(train, epochs=args.epochs, validation_data=val, callbacks=[backup], verbose=2)
    seconds = time.time() - start
    accuracy = model.evaluate(val, verbose=0, return_dict=True)["accuracy"]
    model.save(final + ".tmp.keras")
    os.replace(final + ".tmp.keras", final)
    record = {
        "model": "resnet20",
        "parameters": model.count_params(),
        "epochs": args.epochs,
        "validation_accuracy": accuracy,
        "seconds_last_session": seconds,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "command": "python benchmarks/train_teacher.py --data <cifar10-train.tfrecord.gz>",
    }
    with open(os.path.join(args.out, "teacher-resnet20.json"), "w") as f:
        json.dump(record, f, indent=2)
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
