"""The search for a stronger ``cpu`` protocol (issue: student alone >= 76.0%
on the validation split in 10 epochs, as REFERENCES.md's reference run).

Run: ``python benchmarks/protocol_search.py --data DATA --variant NAME``
(DATA: the shared ``cifar10-train.tfrecord.gz``; NAME: one of ``VARIANTS``)

Each variant changes one or two settings of the ``cpu`` protocol and trains
its ``student_alone`` row into ``benchmarks/results/protocol-search/NAME/``;
every variant tried stays recorded there (resumable like the benchmark).
The decoupled-decay protocol itself reached 73.88% and the PyTorch-form L2
(``benchmarks/weight_decay_check.py``) 74.94%.
"""

import argparse
import dataclasses
import os

from keras_kd_cli.bench.protocols import PROTOCOLS
from keras_kd_cli.bench.runner import run_bench

CPU = PROTOCOLS["cpu"]
# PyTorch's weight_decay=5e-4 as an L2 term (coefficient w / 2) on the kernels.
L2 = {"kernel_l2": 2.5e-4}
VARIANTS = {
    "l2-lr0.1": {**L2, "learning_rate": 0.1},
    "l2-batch64": {**L2, "batch_size": 64},
    "l2-batch64-lr0.1": {**L2, "batch_size": 64, "learning_rate": 0.1},
    "l2-lr0.2": {**L2, "learning_rate": 0.2},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--variant", required=True, choices=sorted(VARIANTS))
    parser.add_argument("--teacher", default="benchmarks/results/teacher-resnet20.keras")
    parser.add_argument("--out", default="benchmarks/results/protocol-search")
    args = parser.parse_args()
    protocol = dataclasses.replace(CPU, name=f"cpu-{args.variant}", **VARIANTS[args.variant])
    command = f"python benchmarks/protocol_search.py --data {args.data} --variant {args.variant}"
    (record,) = run_bench(
        args.data,
        os.path.join(args.out, args.variant),
        teacher_path=args.teacher,
        rows=["student_alone"],
        command=command,
        protocol=protocol,
    )
    print(f"{args.variant}: {record['validation_accuracy']:.2%}")


if __name__ == "__main__":
    main()
