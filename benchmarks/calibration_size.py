"""How many representative images full-int8 calibration needs.

Run: ``python benchmarks/calibration_size.py --data
../shared/data/cifar10/cifar10-train.tfrecord.gz``

Exports one trained student (default: the KD row of the CIFAR-10 benchmark,
``benchmarks/results/cifar10/kd.keras``) to full int8 with the first N
training images as representative data, for several N, and with N random
(uniform 0..255) images as a control; each file is checked in LiteRT and
TFLite-Micro on the same validation images. `keras_kd.export.to_tflite` uses
at most 200 calibration images (``REPRESENTATIVE_SAMPLES``), so N stops there.
Writes ``benchmarks/results/calibration_size.json`` and prints a table.
"""

import argparse
import os
import platform
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from keras_kd import data
from keras_kd._io import write_json_atomically
from keras_kd.export import to_tflite
from keras_kd.export.inputs import REPRESENTATIVE_SAMPLES

SIZES = (1, 5, 25, 100, REPRESENTATIVE_SAMPLES)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "calibration_size.json")


def _images(dataset, n):
    return np.stack([x.numpy() for x, _ in dataset.take(n)]).astype("float32")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="sample", help="a keras_kd.data.load source")
    parser.add_argument("--model", default="benchmarks/results/cifar10/kd.keras")
    parser.add_argument("--check-samples", type=int, default=5000)
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args()

    model = keras.saving.load_model(args.model)
    train = data.load(args.data, "train")
    val = data.load(args.data, "validation").take(args.check_samples)
    x_val = _images(val, args.check_samples)
    y_val = np.array([int(y) for _, y in val])
    calibration = _images(train, max(SIZES))
    random_images = np.random.default_rng(0).uniform(0, 255, calibration.shape).astype("float32")
    runs = [(f"first {n} training images", calibration[:n]) for n in SIZES]
    runs.append((f"{max(SIZES)} random images (uniform 0..255)", random_images))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, images in runs:
            start = time.perf_counter()
            report = to_tflite(
                model,
                os.path.join(folder, "q.tflite"),
                quantization="int8",
                representative_data=images,
                check_data=(x_val, y_val),
                check_samples=None,
            )
            rows.append(
                {
                    "calibration": name,
                    "images": len(images),
                    "keras_accuracy": report.keras_accuracy,
                    "litert_accuracy": report.litert_accuracy,
                    "micro_accuracy": report.micro_accuracy,
                    "litert_agreement": report.litert_agreement,
                    "max_abs_diff": report.max_abs_diff,
                    "input_quantization": report.input_quantization,
                    "seconds": round(time.perf_counter() - start, 1),
                }
            )
            print(rows[-1], flush=True)
    record = {
        "command": "python benchmarks/calibration_size.py --data " + args.data,
        "model": args.model,
        "check_samples": len(x_val),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}",
        "rows": rows,
    }
    write_json_atomically(record, args.out)
    print(f"\nKeras accuracy {rows[0]['keras_accuracy']:.2%} on {len(x_val)} images")
    print("| calibration | LiteRT int8 | TFLite-Micro int8 | top-1 agreement | max abs diff |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['calibration']} | {row['litert_accuracy']:.2%} | {row['micro_accuracy']:.2%}"
            f" | {row['litert_agreement']:.2%} | {row['max_abs_diff']:.3g} |"
        )


if __name__ == "__main__":
    main()
