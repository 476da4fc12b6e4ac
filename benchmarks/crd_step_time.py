"""Measures CRD's training step against KD's on the cpu benchmark protocol's models.

Run: ``nice -n 15 python benchmarks/crd_step_time.py [--rounds 5] [--steps 2]``

Teacher ResNet-20, student MLPerf-Tiny ResNet-8 (`keras_kd.models`), batch 128
of 32x32 random images, memory banks of 45,000 rows (the cpu protocol's
training split). Each distiller is compiled with the protocol's SGD, takes two
warm-up steps (tracing), then the distillers take turns, ``--steps``
`train_on_batch` calls each per round, and the median over ``--rounds`` is
reported (the load of a shared machine drifts between rounds). The
milliseconds per step decide the negatives of the benchmark's ``crd`` row
(`keras_kd_cli.bench.rows`): a 10-epoch row should stay under about twice KD's time.
"""

import argparse
import time

import keras
import numpy as np

from keras_kd import distillers, models, recipes

BATCH, SAMPLES = 128, 45_000


def interleaved_ms(distillers_and_data, rounds, steps):
    """Median ms/step of each distiller over ``rounds``, the distillers taking
    turns within each round (the load of a shared machine drifts)."""
    for distiller, x, y in distillers_and_data.values():
        distiller.compile(optimizer=recipes.cifar_sgd(0.05, 1000))
        for _ in range(2):  # tracing
            distiller.train_on_batch(x, y)
    times = {name: [] for name in distillers_and_data}
    for _ in range(rounds):
        for name, (distiller, x, y) in distillers_and_data.items():
            start = time.perf_counter()
            for _ in range(steps):
                distiller.train_on_batch(x, y)
            times[name].append((time.perf_counter() - start) / steps * 1000.0)
    return {name: float(np.median(t)) for name, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2, help="steps per distiller and round")
    parser.add_argument("--negatives", type=int, nargs="+", default=[4096, 16384])
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (BATCH, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 10, BATCH).astype("int32")
    indexed = {"x": images, "sample_index": rng.permutation(SAMPLES)[:BATCH].astype("int32")}
    teacher = models.resnet20()
    runs = {"kd": (distillers.KD(models.mlperf_tiny_resnet8(), teacher), images, labels)}
    for k in args.negatives:
        crd = distillers.CRD(
            models.mlperf_tiny_resnet8(), teacher, ["pool"], ["pool"], SAMPLES, num_negatives=k
        )
        runs[f"crd K={k}"] = (crd, indexed, labels)
    results = interleaved_ms(runs, args.rounds, args.steps)
    for name, ms in results.items():
        print(
            f"{name:>12}: {ms:6.0f} ms/step (median of {args.rounds} rounds), "
            f"{ms / results['kd']:.2f} x KD"
        )


if __name__ == "__main__":
    main()
