"""Speed benchmark: keras_kd against keras.distillation, measured side by side.

Run: ``python benchmarks/speed.py [--batch-size 128] [--rounds 5]``

Same teacher (CIFAR ResNet-20), student (MLPerf Tiny ResNet-8) and batches in
one process. The embedded CIFAR-10 sample is decoded into memory once, so no
entry waits on JPEG decoding. Every configuration is compiled and traced by a
warm-up epoch first; then, in each of ``--rounds`` rounds, every configuration
trains one full epoch in turn, so that a change of load on the machine touches
all of them alike. Each figure is the median over rounds of the epoch's time
(between ``on_epoch_begin`` and ``on_epoch_end``) divided by its steps.

Logits with positions (`speed_tasks.py`): the KD step on a segmentation
pair and on a masked sequence pair against the student's own step plus the
teacher's inference; ``--tasks-only`` measures just these and updates them in
the record.

Peak memory: a student-only fit, a KD fit and a cached-teacher KD fit each run
in a fresh subprocess, which reports its peak resident set size (VmHWM).
``--memory-only`` measures just these and updates them in the record.

Writes ``benchmarks/results/speed.json``; ``benchmarks/update_readme.py``
turns it into the README's "Speed" section.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys

import keras
import numpy as np
import tensorflow as tf

from keras_kd import data, distillers, models
from keras_kd._io import write_json_atomically
from keras_kd.cache import cache_teacher_outputs
from keras_kd_cli.demo import PRETRAINED_TEACHER

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timers import fit_epoch, inference_epoch  # noqa: E402
from speed_tasks import task_speed  # noqa: E402

TAPS = ["stage1", "stage2", "stage3"]
CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
MEMORY_RUNS = ("student-only fit", "KD fit", "KD fit, cached teacher")


def in_memory_sample():
    """The embedded training sample as an unbatched in-memory dataset."""
    xs, ys = [], []
    for x, y in data.load("sample", "train").batch(1000):
        xs.append(x.numpy())
        ys.append(y.numpy())
    return tf.data.Dataset.from_tensor_slices((np.concatenate(xs), np.concatenate(ys)))


def student():
    keras.utils.set_random_seed(0)
    return models.mlperf_tiny_resnet8()


def keras_distiller(teacher, features):
    losses = [
        keras.distillation.LogitsDistillation(temperature=4.0, loss=keras.losses.KLDivergence())
    ]
    if features:
        losses = [
            keras.distillation.FeatureDistillation(
                loss="mse", teacher_layer_name=n, student_layer_name=n
            )
            for n in TAPS
        ]
    return keras.distillation.Distiller(
        teacher=teacher, student=student(), distillation_losses=losses, student_loss_weight=0.1
    )


def batched(ds, batch_size):
    return ds.batch(batch_size, drop_remainder=True).prefetch(4)


def kd_distiller(teacher):
    return distillers.KD(student=student(), teacher=teacher)


def at_distiller(teacher):
    return distillers.AttentionTransfer(
        student=student(), teacher=teacher, student_layers=TAPS, teacher_layers=TAPS
    )


def configurations(teacher, raw, batch_size, caches):
    """``{name: (model to compile, its dataset, extra compile arguments)}`` for
    one XLA setting; ``caches`` holds the KD and AT teacher caches."""
    plain = batched(raw, batch_size)
    return {
        "student-only step": (student(), plain, {"loss": CE}),
        "keras_kd KD step": (kd_distiller(teacher), plain, {}),
        "keras.distillation KD step": (keras_distiller(teacher, False), plain, {"loss": CE}),
        "keras_kd AT step (3 taps)": (at_distiller(teacher), plain, {}),
        "keras.distillation 3x FeatureDistillation step": (
            keras_distiller(teacher, True),
            plain,
            {"loss": CE},
        ),
        "keras_kd KD step, cached teacher": (
            kd_distiller(teacher),
            batched(caches["KD (logits)"].dataset, batch_size),
            {},
        ),
        "keras_kd AT step (3 taps), cached teacher": (
            at_distiller(teacher),
            batched(caches["AT (logits + 3 taps)"].dataset, batch_size),
            {},
        ),
    }


def speed(teacher, raw, batch_size, rounds):
    """Median seconds per step of every entry, and the cache sizes."""
    steps = int(raw.cardinality()) // batch_size
    caches = {
        "KD (logits)": cache_teacher_outputs(kd_distiller(teacher), raw),
        "AT (logits + 3 taps)": cache_teacher_outputs(at_distiller(teacher), raw),
    }
    sizes = {name: cache.bytes_per_sample for name, cache in caches.items()}
    epochs = {}
    for jit in (False, True):
        tag = "xla" if jit else "no-xla"
        for name, (model, dataset, kwargs) in configurations(
            teacher, raw, batch_size, caches
        ).items():
            model.compile(
                optimizer=keras.optimizers.SGD(0.01, momentum=0.9), jit_compile=jit, **kwargs
            )
            epochs[f"{name} [{tag}]"] = fit_epoch(model, dataset, steps)
        batches = [x for x, _ in batched(raw, batch_size)]
        epochs[f"teacher inference [{tag}]"] = inference_epoch(teacher, batches, jit)
    for name, epoch in epochs.items():
        epoch()  # trace, compile, warm up
        print(f"warmed up: {name}", flush=True)
    times = {name: [] for name in epochs}
    for r in range(rounds):
        for name, epoch in epochs.items():
            seconds, n = epoch()
            times[name].append(seconds / n)
        print(f"round {r + 1}/{rounds} done", flush=True)
    return {name: statistics.median(t) for name, t in times.items()}, sizes


def ratios_of(results):
    ratios = {}
    for tag in ("no-xla", "xla"):
        r = {k.rsplit(" [", 1)[0]: v for k, v in results.items() if k.endswith(f"[{tag}]")}
        ratios[f"KD / (student + teacher inference) [{tag}] (target <= 1.05)"] = r[
            "keras_kd KD step"
        ] / (r["student-only step"] + r["teacher inference"])
        ratios[f"keras_kd AT / keras.distillation 3x feature [{tag}] (target <= 0.8)"] = (
            r["keras_kd AT step (3 taps)"] / r["keras.distillation 3x FeatureDistillation step"]
        )
        ratios[f"cached KD epoch / student-only epoch [{tag}] (target <= 1.15)"] = (
            r["keras_kd KD step, cached teacher"] / r["student-only step"]
        )
        ratios[f"cached AT epoch / student-only epoch [{tag}]"] = (
            r["keras_kd AT step (3 taps), cached teacher"] / r["student-only step"]
        )
        ratios[f"keras_kd KD / keras.distillation KD [{tag}]"] = (
            r["keras_kd KD step"] / r["keras.distillation KD step"]
        )
    return ratios


def measure_memory(run, batch_size):
    """Fits two epochs as ``run`` says and prints the peak RSS in MiB (subprocess)."""
    raw = in_memory_sample()
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
    if run == "student-only fit":
        model, dataset = student(), batched(raw, batch_size)
        model.compile(optimizer=optimizer, loss=CE)
    else:
        teacher = keras.saving.load_model(PRETRAINED_TEACHER)
        model = kd_distiller(teacher)
        model.compile(optimizer=optimizer)
        dataset = batched(raw, batch_size)
        if run == "KD fit, cached teacher":
            dataset = batched(cache_teacher_outputs(model, raw).dataset, batch_size)
    model.fit(dataset, epochs=2, verbose=0)
    print(peak_rss_mib())


def peak_rss_mib():
    """This process's peak resident set size. Linux's VmHWM starts afresh at
    exec; ``ru_maxrss`` would carry over the parent's size at fork."""
    try:
        with open("/proc/self/status") as f:
            line = next(ln for ln in f if ln.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_memory(batch_size):
    peaks = {}
    for run in MEMORY_RUNS:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-run", run, "--batch-size", str(batch_size)],
            capture_output=True,
            text=True,
            check=True,
        )
        peaks[run] = float(out.stdout.strip().splitlines()[-1])
        print(f"peak RSS of {run}: {peaks[run]:.0f} MiB", flush=True)
    return peaks


def machine():
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}, "
        f"Keras {keras.__version__}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--task-rounds",
        type=int,
        default=7,
        help="rounds of the segmentation, sequence and "
        "detection entries (their ratios are taken per round)",
    )
    parser.add_argument("--out", default="benchmarks/results/speed.json")
    parser.add_argument("--memory-run", choices=MEMORY_RUNS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="measure only the peak memory and update it in an existing --out record",
    )
    parser.add_argument(
        "--tasks-only",
        action="store_true",
        help="measure only the segmentation, sequence and detection KD steps and update them "
        "in --out",
    )
    args = parser.parse_args()
    if args.tasks_only:
        with open(args.out) as f:
            record = json.load(f)
        record["tasks"], record["task_ratios"] = task_speed(args.task_rounds)
        record["task_rounds"] = args.task_rounds
        record["tasks_machine"] = machine()
        record["tasks_command"] = "python benchmarks/speed.py --tasks-only"
        write_json_atomically(record, args.out)
        return
    if args.memory_run:
        measure_memory(args.memory_run, args.batch_size)
        return
    if args.memory_only:
        with open(args.out) as f:
            record = json.load(f)
        record["peak_memory_mib"] = peak_memory(record["batch_size"])
        record["memory_command"] = "python benchmarks/speed.py --memory-only"
        write_json_atomically(record, args.out)
        return
    raw = in_memory_sample()
    teacher = keras.saving.load_model(PRETRAINED_TEACHER)
    results, sizes = speed(teacher, raw, args.batch_size, args.rounds)
    ratios = ratios_of(results)
    tasks, task_ratios = task_speed(args.task_rounds)
    record = {
        "machine": machine(),
        "batch_size": args.batch_size,
        "steps_per_epoch": int(raw.cardinality()) // args.batch_size,
        "rounds": args.rounds,
        "seconds_per_step": results,
        "ratios": ratios,
        "cache_bytes_per_sample": sizes,
        "peak_memory_mib": peak_memory(args.batch_size),
        "tasks": tasks,
        "task_rounds": args.task_rounds,
        "task_ratios": task_ratios,
        "command": "python benchmarks/speed.py",
    }
    write_json_atomically(record, args.out)
    print(json.dumps(ratios, indent=2))


if __name__ == "__main__":
    main()
