"""Checks one explanation of the gap to REFERENCES.md's CPU reference run:
the form of the weight decay.

Run: ``python benchmarks/weight_decay_check.py --data DATA`` (DATA: the shared
``cifar10-train.tfrecord.gz``)

The ``cpu`` protocol decays the weights in the optimizer (decoupled,
``w -= lr * 5e-4 * w`` per step). This reruns its ``student_alone`` and
``kd`` rows with the decay as an L2 term on the convolution kernels instead
(coefficient 2.5e-4, PyTorch's weight_decay=5e-4, which goes through the
momentum), everything else equal, into ``benchmarks/results/cifar10-l2/``.
Resumable like the benchmark itself.
"""

import argparse
import dataclasses

from keras_kd_cli.bench.protocols import PROTOCOLS
from keras_kd_cli.bench.runner import run_bench
from keras_kd_cli.bench.table import markdown_table

COUPLED = dataclasses.replace(PROTOCOLS["cpu"], name="cpu-l2", kernel_l2=2.5e-4)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--teacher", default="benchmarks/results/teacher-resnet20.keras")
    parser.add_argument("--out", default="benchmarks/results/cifar10-l2")
    args = parser.parse_args()
    command = f"python benchmarks/weight_decay_check.py --data {args.data}"
    run_bench(
        args.data,
        args.out,
        teacher_path=args.teacher,
        rows=["student_alone", "kd"],
        command=command,
        protocol=COUPLED,
    )
    print(markdown_table(args.out))


if __name__ == "__main__":
    main()
