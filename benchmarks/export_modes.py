"""The four TFLite export modes of one student: size, LiteRT speed and accuracy, TFLite-Micro.

Run: ``python benchmarks/export_modes.py --data
../shared/data/cifar10/cifar10-train.tfrecord.gz``

Exports one trained student (default: the KD row of the CIFAR-10 benchmark,
``benchmarks/results/cifar10/kd.keras``) as float32, float16, dynamic-range
and full int8 (200 training images calibrate), checks each on the same
validation images in LiteRT (and int8 in TFLite-Micro), and times one
batch-1 inference in LiteRT on this CPU: the median over interleaved rounds
of the mean time of ``--invokes`` calls, after a warm-up. Host timings
compare the modes with each other; they are not a microcontroller's.
Writes ``benchmarks/results/export_modes.json`` and prints a table.
"""

import argparse
import os
import platform
import statistics
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from keras_kd import data
from keras_kd._io import write_json_atomically
from keras_kd.export import to_tflite
from keras_kd.export.litert import dequantize_output, quantize_input
from keras_kd.export.micro import MicroError, run_micro

MODES = (None, "float16", "dynamic", "int8")
MICRO_SAMPLES = 200  # images each file runs on in TFLite-Micro (to_tflite does int8 only)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "export_modes.json")


def _images(dataset, n):
    pairs = list(dataset.take(n))
    return np.stack([x.numpy() for x, _ in pairs]).astype("float32"), np.array(
        [int(y) for _, y in pairs]
    )


def _interpreter(path, image):
    interpreter = Interpreter(model_path=path)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], quantize_input(image[None], detail))
    return interpreter


def _try_micro(path, x, y):
    """(accuracy, arena bytes, None) in TFLite-Micro, or (None, None, the error)."""
    with open(path, "rb") as f:
        model_bytes = f.read()
    interpreter = Interpreter(model_content=model_bytes)
    input_detail, output_detail = (
        interpreter.get_input_details()[0],
        interpreter.get_output_details()[0],
    )
    try:
        raw, arena = run_micro(model_bytes, quantize_input(x, input_detail))
    except MicroError as err:
        return None, None, str(err)[:300]
    logits = dequantize_output(raw.reshape(len(x), -1), output_detail)
    return float(np.mean(logits.argmax(-1) == y)), arena, None


def _mean_invoke_ms(interpreter, invokes):
    start = time.perf_counter()
    for _ in range(invokes):
        interpreter.invoke()
    return 1000 * (time.perf_counter() - start) / invokes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="sample", help="a keras_kd.data.load source")
    parser.add_argument("--model", default="benchmarks/results/cifar10/kd.keras")
    parser.add_argument("--check-samples", type=int, default=1000)
    parser.add_argument("--invokes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args()

    model = keras.saving.load_model(args.model)
    calibration, _ = _images(data.load(args.data, "train"), 200)
    x_val, y_val = _images(data.load(args.data, "validation"), args.check_samples)
    rows, paths = [], {}
    with tempfile.TemporaryDirectory() as folder:
        for mode in MODES:
            name = mode or "float32"
            paths[name] = os.path.join(folder, f"{name}.tflite")
            report = to_tflite(
                model,
                paths[name],
                quantization=mode,
                representative_data=calibration,
                check_data=(x_val, y_val),
                check_samples=None,
            )
            micro = _try_micro(paths[name], x_val[:MICRO_SAMPLES], y_val[:MICRO_SAMPLES])
            rows.append(
                {
                    "mode": name,
                    "size_bytes": report.size_bytes,
                    "keras_accuracy": report.keras_accuracy,
                    "litert_accuracy": report.litert_accuracy,
                    "max_abs_diff": report.max_abs_diff,
                    "micro_accuracy_first_200": micro[0],
                    "micro_arena_bytes": micro[1],
                    "micro_error": micro[2],
                }
            )
            print(rows[-1], flush=True)
        interpreters = {name: _interpreter(path, x_val[0]) for name, path in paths.items()}
        for interpreter in interpreters.values():
            _mean_invoke_ms(interpreter, 20)  # warm-up
        timings = {name: [] for name in interpreters}
        for _ in range(args.rounds):  # interleaved, so that a change of load touches all
            for name, interpreter in interpreters.items():
                timings[name].append(_mean_invoke_ms(interpreter, args.invokes))
    for row in rows:
        row["litert_ms_per_image"] = round(statistics.median(timings[row["mode"]]), 3)
    record = {
        "command": "python benchmarks/export_modes.py --data " + args.data,
        "model": args.model,
        "check_samples": len(x_val),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}",
        "rows": rows,
    }
    write_json_atomically(record, args.out)
    print(f"\nKeras accuracy {rows[0]['keras_accuracy']:.2%} on {len(x_val)} images")
    print(f"| mode | size | LiteRT ms/image | LiteRT accuracy | TFLite-Micro ({MICRO_SAMPLES}) |")
    print("|---|---|---|---|---|")
    for row in rows:
        micro = row["micro_accuracy_first_200"]
        micro = "does not run" if micro is None else f"{micro:.2%}, {row['micro_arena_bytes']:,} B"
        print(
            f"| {row['mode']} | {row['size_bytes'] / 1024:.1f} KiB | "
            f"{row['litert_ms_per_image']:.2f} | {row['litert_accuracy']:.2%} | {micro} |"
        )


if __name__ == "__main__":
    main()
