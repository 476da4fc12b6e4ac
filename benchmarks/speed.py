"""Speed benchmark: keras_kd against keras.distillation, measured side by side.

Run: ``python benchmarks/speed.py [--batch-size 128] [--steps 20] [--repeats 5]``

Same teacher (CIFAR ResNet-20) and student (MLPerf Tiny ResNet-8), same
batches of the embedded CIFAR-10 sample, in one process. Each entry is the
median over ``--repeats`` of the mean time per step of a ``--steps``-step
`fit` (after a warm-up fit that traces and compiles). Prints a table and the
ratios of the targets, and writes ``benchmarks/results/speed.json``.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import time

import keras
import tensorflow as tf

from keras_kd import data, distillers, models
from keras_kd.cache import cache_teacher_outputs
from keras_kd.demo import PRETRAINED_TEACHER

TAPS = ["stage1", "stage2", "stage3"]
CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def timed_fit(model, ds, steps, repeats):
    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)  # trace, compile, warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times)


def timed_inference(teacher, ds, steps, repeats, jit):
    step = tf.function(lambda x: teacher(x, training=False), jit_compile=jit)
    batches = [x for x, _ in ds.take(steps)]
    step(batches[0])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for x in batches:
            step(x).numpy()
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times)


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results/speed.json")
    args = parser.parse_args()
    teacher = keras.saving.load_model(PRETRAINED_TEACHER)
    raw = data.load("sample", "train").map(lambda x, y: (tf.ensure_shape(x, [32, 32, 3]), y))
    raw = raw.cache()
    ds = raw.batch(args.batch_size, drop_remainder=True).repeat().prefetch(4)
    results = {}
    for jit in (False, True):
        tag = "xla" if jit else "no-xla"

        def run(name, model, dataset=ds, tag=tag, jit=jit, **compile_kwargs):
            model.compile(
                optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                jit_compile=jit,
                **compile_kwargs,
            )
            results[f"{name} [{tag}]"] = timed_fit(model, dataset, args.steps, args.repeats)
            print(f"{name} [{tag}]: {1000 * results[f'{name} [{tag}]']:.1f} ms/step", flush=True)

        run("student-only step", student(), loss=CE)
        results[f"teacher inference [{tag}]"] = timed_inference(
            teacher, ds, args.steps, args.repeats, jit
        )
        print(
            f"teacher inference [{tag}]: {1000 * results[f'teacher inference [{tag}]']:.1f} ms/step"
        )
        run("keras_kd KD step", distillers.KD(student=student(), teacher=teacher))
        run("keras.distillation KD step", keras_distiller(teacher, features=False), loss=CE)
        at = distillers.AttentionTransfer(
            student=student(), teacher=teacher, student_layers=TAPS, teacher_layers=TAPS
        )
        run("keras_kd AT step (3 taps)", at)
        run(
            "keras.distillation 3x FeatureDistillation step",
            keras_distiller(teacher, features=True),
            loss=CE,
        )
        kd = distillers.KD(student=student(), teacher=teacher)
        kd_cache = cache_teacher_outputs(kd, raw)
        cached = kd_cache.dataset.batch(args.batch_size, drop_remainder=True).repeat().prefetch(4)
        run("keras_kd KD step, cached teacher", kd, dataset=cached)
        at = distillers.AttentionTransfer(
            student=student(), teacher=teacher, student_layers=TAPS, teacher_layers=TAPS
        )
        at_cache = cache_teacher_outputs(at, raw)
        cached = at_cache.dataset.batch(args.batch_size, drop_remainder=True).repeat().prefetch(4)
        run("keras_kd AT step (3 taps), cached teacher", at, dataset=cached)
        results["cache bytes per sample (KD)"] = kd_cache.bytes_per_sample
        results["cache bytes per sample (AT, 3 taps)"] = at_cache.bytes_per_sample
    results["peak RSS of the process (MiB)"] = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    ratios = {}
    for tag in ("no-xla", "xla"):
        r = {k.rsplit(" [", 1)[0]: v for k, v in results.items() if k.endswith(f"[{tag}]")}
        ratios[f"KD / (student + teacher inference) [{tag}] (target <= 1.05)"] = r[
            "keras_kd KD step"
        ] / (r["student-only step"] + r["teacher inference"])
        ratios[f"keras_kd AT / keras.distillation 3x feature [{tag}] (target <= 0.8)"] = (
            r["keras_kd AT step (3 taps)"] / r["keras.distillation 3x FeatureDistillation step"]
        )
        ratios[f"cached KD / student-only [{tag}] (target <= 1.15)"] = (
            r["keras_kd KD step, cached teacher"] / r["student-only step"]
        )
        ratios[f"keras_kd KD / keras.distillation KD [{tag}]"] = (
            r["keras_kd KD step"] / r["keras.distillation KD step"]
        )
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}, "
        f"Keras {keras.__version__}"
    )
    record = {
        "machine": machine,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "repeats": args.repeats,
        "seconds_per_step": results,
        "ratios": ratios,
        "command": "python benchmarks/speed.py",
    }
    with open(args.out, "w") as f:
        json.dump(record, f, indent=2)
    print(json.dumps(ratios, indent=2))


if __name__ == "__main__":
    main()
