"""Trains the benchmark teacher (CIFAR ResNet-20) on the shared CIFAR-10 split.

Run: ``python benchmarks/train_teacher.py --data ../shared/data/cifar10/cifar10-train.tfrecord.gz``

Protocol (REFERENCES.md): first 45,000 records train, last 5,000 validate;
pad-4 crop + flip; SGD Nesterov 0.9, lr 0.1 cosine to 0, weight decay 5e-4,
batch 128, 12 epochs. Resumable: progress is kept by
`keras.callbacks.BackupAndRestore` under ``--out``; the finished model is
written to ``--out/teacher-resnet20.keras`` with a JSON record beside it.
"""

import argparse
import dataclasses
import json
import os
import platform
import time

import keras

from keras_kd import data
from keras_kd._io import save_model_atomically, write_json_atomically
from keras_kd_cli.bench.protocols import PROTOCOLS
from keras_kd_cli.bench.runner import fit_teacher

CPU = PROTOCOLS["cpu"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="cifar10-train.tfrecord.gz")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--epochs", type=int, default=CPU.teacher_epochs)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    final = os.path.join(args.out, "teacher-resnet20.keras")
    if os.path.exists(final):
        print(f"{final} exists; nothing to do")
        return
    protocol = dataclasses.replace(CPU, teacher_epochs=args.epochs)
    train_raw = data.load_cifar10_split(args.data, "train")
    val = data.load_cifar10_split(args.data, "validation").batch(500)
    backup = keras.callbacks.BackupAndRestore(os.path.join(args.out, "teacher-backup"))
    start = time.time()
    model = fit_teacher(protocol, train_raw, backup)
    seconds = time.time() - start
    accuracy = model.evaluate(val, verbose=0, return_dict=True)["accuracy"]
    save_model_atomically(model, final)
    record = {
        "model": CPU.teacher,
        "parameters": model.count_params(),
        "epochs": args.epochs,
        "validation_accuracy": accuracy,
        "seconds_last_session": seconds,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "command": "python benchmarks/train_teacher.py --data <cifar10-train.tfrecord.gz>",
    }
    write_json_atomically(record, os.path.join(args.out, "teacher-resnet20.json"))
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
