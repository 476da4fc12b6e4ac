"""The segmentation and sequence benchmarks (issue 28, points 5-6): resumable rows.

Run: ``python benchmarks/dense_bench.py --task segmentation`` (or ``--task
sequence``); records go to ``benchmarks/results/segmentation/`` (or
``sequence/``), one JSON per row, and the table is printed. A recorded row is
not rerun. Segmentation reads the embedded CIFAR-10 sample unless ``--data``
names the shared ``cifar10-train.tfrecord.gz``.

A smoke run (a few hundred canvases, 1 epoch) that checks the pipeline:
``python benchmarks/dense_bench.py --task segmentation --out /tmp/seg-smoke
--epochs 1 --teacher-epochs 1 --train-count 300 --heldout-count 100 --images 400``

The CLI's ``keras-kd bench`` stays the CIFAR-10 classification benchmark: its
options (protocol, teacher file, TFDS data) do not apply to these tasks.
"""

import argparse
import sys

from keras_kd_cli.bench.dense_runner import dense_table, run_dense_bench
from keras_kd_cli.bench.dense_tasks import ROWS, TASKS


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", required=True, choices=sorted(TASKS))
    parser.add_argument("--out", default=None, help="default: benchmarks/results/TASK")
    parser.add_argument("--data", default="sample", help="segmentation images (default: sample)")
    parser.add_argument("--rows", default=None, help="comma-separated rows; default: all")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--teacher-epochs", type=int, default=None)
    parser.add_argument("--train-count", type=int, default=None)
    parser.add_argument("--heldout-count", type=int, default=None)
    parser.add_argument("--images", type=int, default=None, help="images read per split")
    args = parser.parse_args(argv)
    rows = args.rows.split(",") if args.rows else None
    unknown = sorted(set(rows or []) - set(ROWS[args.task]))
    if unknown:
        parser.error(f"--rows must be among {list(ROWS[args.task])}: unknown {unknown}")
    records = run_dense_bench(
        args.task,
        args.out or f"benchmarks/results/{args.task}",
        source=args.data,
        rows=rows,
        command="python benchmarks/dense_bench.py " + " ".join(argv or sys.argv[1:]),
        epochs=args.epochs,
        teacher_epochs=args.teacher_epochs,
        train_count=args.train_count,
        heldout_count=args.heldout_count,
        images=args.images,
    )
    print(dense_table(records, TASKS[args.task].metric))


if __name__ == "__main__":
    main()
