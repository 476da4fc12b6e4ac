"""The `keras-kd` command line."""

import argparse
import sys


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1 (received {text!r})")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-kd", description="Knowledge distillation for Keras 3, down to TFLite."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="distill a CIFAR-10 student on the embedded sample (offline)"
    )
    demo.add_argument("--epochs", type=_positive_int, default=12, help="epochs per run")
    demo.add_argument("--out", default="demo-output", help="folder for the distilled student")
    demo.add_argument(
        "--train-teacher",
        action="store_true",
        help="train the teacher on the sample instead of loading the shipped one",
    )
    from keras_kd.export import cli as export_cli

    export_cli.add_parser(commands, _positive_int)
    bench = commands.add_parser("bench", help="run the resumable method benchmark")
    bench.add_argument(
        "--data",
        default="sample",
        help="'sample', the shared cifar10-train.tfrecord.gz or tfds:cifar100",
    )
    bench.add_argument(
        "--protocol",
        default="cpu",
        choices=["cpu", "cifar100"],
        help="cpu: ResNet-20 -> MLPerf Tiny ResNet-8, 10 epochs; cifar100: RepDistiller's "
        "240-epoch ResNet-56 -> ResNet-20 recipe (keras_kd.bench.protocols)",
    )
    bench.add_argument("--data-dir", default=None, help="TFDS data folder (with tfds:NAME)")
    bench.add_argument(
        "--out", default="benchmarks/results/sample", help="folder for JSON/.keras/.tflite"
    )
    bench.add_argument(
        "--teacher",
        default=None,
        help="teacher .keras (default: trained once by the runner into --out; the shipped "
        "ResNet-20 for the sample)",
    )
    bench.add_argument("--epochs", type=_positive_int, default=None, help="default: protocol's")
    bench.add_argument("--batch-size", type=_positive_int, default=None, help="default: protocol's")
    bench.add_argument("--rows", default=None, help="comma-separated rows (default: all)")
    bench.add_argument(
        "--table-only", action="store_true", help="only print the table of recorded rows"
    )
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from keras_kd.demo import run_demo

        run_demo(epochs=args.epochs, out=args.out, train_teacher=args.train_teacher)
        return 0
    if args.command == "bench":
        return _bench(args, argv)
    if args.command == "export":
        from keras_kd.export import cli as export_cli

        return export_cli.run(args, parser)
    return 0


def _bench(args, argv):
    from keras_kd.bench.protocols import PROTOCOLS
    from keras_kd.bench.runner import run_bench
    from keras_kd.bench.table import markdown_table, write_chart

    if not args.table_only:
        command = "keras-kd " + " ".join(argv if argv is not None else sys.argv[1:])
        rows = args.rows.split(",") if args.rows else None
        allowed = PROTOCOLS[args.protocol].rows
        unknown = sorted(set(rows or []) - set(allowed))
        if unknown:
            build_parser().error(f"--rows must be among {allowed}: unknown rows {unknown}")
        run_bench(
            args.data,
            args.out,
            args.epochs,
            args.batch_size,
            args.teacher,
            rows,
            command,
            protocol=args.protocol,
            data_dir=args.data_dir,
        )
    print(markdown_table(args.out))
    write_chart(args.out, f"{args.out.rstrip('/')}/accuracy.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
