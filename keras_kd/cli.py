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
    demo.add_argument("--epochs", type=_positive_int, default=15, help="epochs per run")
    demo.add_argument("--out", default="demo-output", help="folder for the distilled student")
    demo.add_argument(
        "--train-teacher",
        action="store_true",
        help="train the teacher on the sample instead of loading the shipped one",
    )
    from keras_kd.export import cli as export_cli

    export_cli.add_parser(commands, _positive_int)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from keras_kd.demo import run_demo

        run_demo(epochs=args.epochs, out=args.out, train_teacher=args.train_teacher)
        return 0
    if args.command == "export":
        from keras_kd.export import cli as export_cli

        return export_cli.run(args, parser)
    return 0


if __name__ == "__main__":
    sys.exit(main())
