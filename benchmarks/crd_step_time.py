"""Measures CRD's training step against KD's on the cpu benchmark protocol's models.

Run: ``nice -n 15 python benchmarks/crd_step_time.py [--steps 8] [--negatives 4096 16384]``

Teacher ResNet-20, student MLPerf-Tiny ResNet-8 (`keras_kd.models`), batch 128
of 32x32 random images, memory banks of 45,000 rows (the cpu protocol's
training split). Each distiller is compiled with the protocol's SGD and timed
over ``--steps`` `train_on_batch` calls after two warm-up steps (tracing). The
milliseconds per step decide the negatives of the benchmark's ``crd`` row
(`keras_kd.bench.rows`): a 10-epoch row should stay under about twice KD's time.
"""

import argparse
import time

import keras
import numpy as np

from keras_kd import distillers, models, recipes

BATCH, SAMPLES = 128, 45_000


def step_ms(distiller, x, y, steps):
    distiller.compile(optimizer=recipes.cifar_sgd(0.05, 1000))
    for _ in range(2):
        distiller.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        distiller.train_on_batch(x, y)
    return (time.perf_counter() - start) / steps * 1000.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--negatives", type=int, nargs="+", default=[4096, 16384])
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (BATCH, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 10, BATCH).astype("int32")
    indexed = {"x": images, "sample_index": rng.permutation(SAMPLES)[:BATCH].astype("int32")}
    teacher = models.resnet20()
    runs = {"kd": lambda: distillers.KD(models.mlperf_tiny_resnet8(), teacher)}
    for k in args.negatives:
        runs[f"crd K={k}"] = lambda k=k: distillers.CRD(
            models.mlperf_tiny_resnet8(), teacher, ["pool"], ["pool"], SAMPLES, num_negatives=k
        )
    results = {}
    for name, build in runs.items():
        x = images if name == "kd" else indexed
        results[name] = step_ms(build(), x, labels, args.steps)
        print(f"{name}: {results[name]:.0f} ms/step", flush=True)
    for name, ms in results.items():
        print(f"{name:>12}: {ms:6.0f} ms/step, {ms / results['kd']:.2f} x KD")


if __name__ == "__main__":
    main()
