"""The `keras-kd` command's entry point.

It lives outside the `keras_kd` package so that arguments are parsed, and the
checks that need no model are made, before `keras_kd` (and with it Keras and
TensorFlow) is imported: ``--help`` and usage errors answer at once, and
``import keras_kd`` stays an ordinary, eager import. Each command then runs
inside `keras_kd_cli.quiet.tensorflow_quiet`: no TensorFlow logging unless
``--verbose``.
"""

import os
import sys
import traceback
import zipfile

from keras_kd_cli.parser import EXIT_FAILURE, UsageError, build_parser

__all__ = ["main"]


def main(argv=None):
    """Runs ``keras-kd`` with ``argv`` (default: the process's arguments).

    Returns:
        The exit code: 0 on success, 1 when ``export --target mcu`` finds a
        budget exceeded, 3 after printing why the command failed. A usage error
        exits with 2 through `SystemExit`, as argparse does.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    from keras_kd_cli.quiet import tensorflow_quiet

    try:
        if args.command == "export":
            _check_export_arguments(args)
        with tensorflow_quiet(args.verbose):
            from keras_kd.cli import COMMANDS

            return COMMANDS[args.command](args)
    except UsageError as err:
        args.command_parser.error(str(err))
    except Exception as err:  # any other error is the command's failure (exit 3)
        if args.verbose:
            traceback.print_exc()
        lines = str(err).strip().splitlines() or [""]
        hint = "" if args.verbose else "\n(run again with --verbose for details)"
        print(
            f"keras-kd {args.command}: failed: {type(err).__name__}: {lines[0]}{hint}",
            file=sys.stderr,
        )
        return EXIT_FAILURE


def _check_export_arguments(args):
    """The export checks that need neither the model nor TensorFlow."""
    if args.target == "mcu" and args.quantize != "int8":
        raise UsageError(
            f"--target mcu needs --quantize int8. Received: --quantize={args.quantize}"
        )
    if args.quantize == "int8" and args.data is None:
        raise UsageError(
            "--quantize int8 needs --data to calibrate on (e.g. --data sample). "
            "Received: --data=None"
        )
    budgets = [f"--{name}-kb" for name in ("flash", "ram") if getattr(args, f"{name}_kb")]
    if budgets and args.target != "mcu":
        raise UsageError(
            f"{' and '.join(budgets)} only apply with --target mcu. "
            f"Received: --target={args.target}"
        )
    if not os.path.exists(args.model):
        raise UsageError(f"cannot load MODEL: no such file. Received: MODEL={args.model!r}")
    if os.path.isdir(args.model):
        raise UsageError(
            "cannot load MODEL: it is a folder; give a .keras file (model.save('name.keras')). "
            f"Received: MODEL={args.model!r}"
        )
    if not args.model.endswith(".h5") and not zipfile.is_zipfile(args.model):
        raise UsageError(
            "cannot load MODEL: it is corrupt or not a Keras file (a .keras file is a zip "
            f"archive and this file is not one: truncated, or another format). "
            f"Received: MODEL={args.model!r}"
        )
    if os.path.isdir(args.out):
        raise UsageError(
            "OUT is a folder; give the .tflite file to write, e.g. "
            f"{os.path.join(args.out, 'model.tflite')}. Received: OUT={args.out!r}"
        )
