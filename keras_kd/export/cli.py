"""`keras-kd export`: convert a saved model and print the export report.

The arguments were parsed and checked by `keras_kd.cli` before this module
(and TensorFlow) was imported.
"""

import keras

from keras_kd import data, distillers, quantization  # noqa: F401 (registers their classes)
from keras_kd._cli_parser import (
    DEFAULT_FLASH_KB,
    DEFAULT_RAM_KB,
    EXIT_BUDGET_EXCEEDED,
    EXIT_OK,
    UsageError,
)
from keras_kd.export import to_tflite
from keras_kd.export.convert import deployable_model

CALIBRATION_BATCH = 100
CHECK_BATCH = 250


def load_model(path):
    """Loads ``path``; a file Keras cannot load is a `UsageError`."""
    try:
        model = keras.saving.load_model(path)
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot load MODEL {path!r}: {str(err).splitlines()[0]}") from None
    return deployable_model(model)


def _load_data(source):
    """The calibration and check datasets of ``--data``."""
    try:
        train = data.load(source, "train")
        validation = data.load(source, "validation")
    except ValueError as err:
        raise UsageError(f"--data: {err}") from None
    return train.batch(CALIBRATION_BATCH).take(2), validation.batch(CHECK_BATCH)


def run(args):
    """Runs ``keras-kd export`` on parsed arguments; returns the exit code."""
    model = load_model(args.model)
    representative = check = None
    if args.data is not None:
        representative, check = _load_data(args.data)
    report = to_tflite(
        model,
        args.out,
        quantization=None if args.quantize == "none" else args.quantize,
        representative_data=representative,
        check_data=check,
    )
    print(report.as_table())
    if args.target == "mcu":
        flash_kb, ram_kb = args.flash_kb or DEFAULT_FLASH_KB, args.ram_kb or DEFAULT_RAM_KB
        return _check_budgets(report, flash_kb, ram_kb)
    return EXIT_OK


def _check_budgets(report, flash_kb, ram_kb):
    problems = []
    if report.micro_error or report.arena_bytes is None:
        problems.append(f"TFLite-Micro could not run the model: {report.micro_error}")
    if report.micro_unsupported_ops:
        problems.append(f"ops without TFLite-Micro kernels: {report.micro_unsupported_ops}")
    if report.size_bytes > flash_kb * 1024:
        problems.append(
            f"model is {report.size_bytes / 1024:.1f} KiB, over the {flash_kb} KiB flash budget"
        )
    if report.arena_bytes is not None and report.arena_bytes > ram_kb * 1024:
        problems.append(
            f"arena is {report.arena_bytes / 1024:.1f} KiB, over the {ram_kb} KiB RAM budget"
        )
    if problems:
        print("\nMCU check FAILED:\n- " + "\n- ".join(problems))
        return EXIT_BUDGET_EXCEEDED
    print(f"\nMCU check passed: fits {flash_kb} KiB flash / {ram_kb} KiB RAM.")
    return EXIT_OK
