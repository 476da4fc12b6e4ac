"""The `keras-kd` command's entry point.

It lives outside the `keras_kd` package so that arguments are parsed, and the
checks that need no model are made, before `keras_kd` (and with it Keras and
TensorFlow) is imported: ``--help`` and usage errors answer at once, and
``import keras_kd`` stays an ordinary, eager import. Each command then runs
inside `keras_kd_cli.quiet.tensorflow_quiet`: no TensorFlow logging unless
``--verbose``.
"""

import sys
import traceback

from keras_kd_cli.checks import CHECKS
from keras_kd_cli.parser import EXIT_FAILURE, EXIT_INTERRUPTED, UsageError, build_parser

__all__ = ["main"]

RESUMABLE = {
    "distill": "; run the same command again to resume from the last finished epoch",
    "bench": "; run the same command again to resume the unfinished row",
}


def main(argv=None):
    """Runs ``keras-kd`` with ``argv`` (default: the process's arguments).

    Returns:
        The exit code: 0 on success, 1 when ``export --target mcu`` finds a
        budget exceeded, 3 after printing why the command failed, 130 when
        interrupted (Ctrl-C). A usage error
        exits with 2 through `SystemExit`, as argparse does.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    from keras_kd_cli.quiet import tensorflow_quiet

    try:
        if args.command in CHECKS:
            CHECKS[args.command](args)
        with tensorflow_quiet(args.verbose):
            from keras_kd_cli.commands import COMMANDS

            return COMMANDS[args.command](args)
    except UsageError as err:
        args.command_parser.error(str(err))
    except KeyboardInterrupt:
        resume = RESUMABLE.get(args.command, "")
        print(f"\nkeras-kd {args.command}: interrupted{resume}", file=sys.stderr)
        return EXIT_INTERRUPTED
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
