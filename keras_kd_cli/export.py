"""`keras-kd export`: convert a saved model and print the export report.

The arguments were parsed and checked by `keras_kd_cli` before this module
(and TensorFlow) was imported.
"""

import zipfile
import zlib

import keras

from keras_kd import data, distillers, quantization  # noqa: F401 (registers their classes)
from keras_kd.export import to_tflite
from keras_kd.export.convert import deployable_model
from keras_kd.export.firmware import check_firmware_paths, write_firmware_files
from keras_kd.export.inputs import fits, input_shape
from keras_kd.features import logits_tensor
from keras_kd_cli.parser import (
    DEFAULT_FLASH_KB,
    DEFAULT_RAM_KB,
    EXIT_BUDGET_EXCEEDED,
    EXIT_OK,
    UsageError,
)

CALIBRATION_BATCH = 100
CHECK_BATCH = 250
# What reading a damaged .keras archive raises, besides Keras's own ValueError.
_CORRUPT_FILE_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError)


def load_model(path, name="MODEL"):
    """Loads ``path`` with Keras's default safe mode; a file it refuses is a `UsageError`.

    Args:
        path: the .keras file.
        name: the command-line argument it came from, named in the errors.

    Returns:
        The model, or the deployable model of a saved distiller.
    """
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except ValueError as err:
        first_line = (str(err).strip().splitlines() or [""])[0]
        if "safe_mode" in first_line:  # Keras names the override in its refusal
            raise UsageError(
                f"cannot load {name}: Keras refused it in safe mode, which keras-kd always "
                "uses, because it holds Python code that would run on loading (e.g. a Lambda "
                f"layer with a Python function). Keras said: {first_line} keras-kd has no "
                "option to turn safe mode off: if you trust the file, load it in Python and "
                f"call keras_kd.export.to_tflite. Received: {name}={path!r}"
            ) from None
        raise UsageError(f"cannot load {name}: {first_line} Received: {name}={path!r}") from None
    except _CORRUPT_FILE_ERRORS as err:
        raise UsageError(
            f"cannot load {name}: it is corrupt or not a Keras file ({type(err).__name__}: "
            f"{err}). Received: {name}={path!r}"
        ) from None
    except TypeError as err:  # e.g. a class that is not registered
        raise UsageError(f"cannot load {name}: {err} Received: {name}={path!r}") from None
    try:
        return deployable_model(model)
    except ValueError:
        raise UsageError(
            f"{name} holds a {type(model).__name__}, not a Keras model. Received: {name}={path!r}"
        ) from None


def _load_data(source, model):
    """The calibration and check datasets of ``--data``, checked against the model's input."""
    try:
        train = data.load(source, "train")
        validation = data.load(source, "validation")
    except ValueError as err:
        raise UsageError(f"--data: {err}") from None
    check_images_fit(train, model, "MODEL", source)
    return calibration_and_check(train, validation)


def image_shape(dataset):
    """The image shape of an unbatched ``(image, label)`` dataset (its first image's
    when the images may differ, e.g. in an image folder)."""
    shape = tuple(dataset.element_spec[0].shape)
    if None in shape:
        shape = tuple(next(iter(dataset.take(1)))[0].shape)
    return shape


def check_images_fit(dataset, model, name, source):
    """Refuses ``--data`` images that ``model`` (the argument ``name``) cannot take."""
    shape, expected = image_shape(dataset), input_shape(model)
    if not fits(shape, expected):
        raise UsageError(
            f"--data inputs do not fit {name}'s input: they have shape {shape}, "
            f"{name} {model.name!r} takes {expected}. Received: --data={source!r}"
        )


def calibration_and_check(train, validation):
    """The int8 calibration batches (the first 200 training images) and the check batches."""
    return train.batch(CALIBRATION_BATCH).take(2), validation.batch(CHECK_BATCH)


def export_and_report(
    model, out, quantize, representative=None, check=None, verbose="auto", logits_output=None
):
    """Converts ``model`` to ``out``, checks the file and prints the export report.

    Args:
        model: a Keras model.
        out: the .tflite file to write.
        quantize: ``"none"`` (float32), ``"float16"``, ``"dynamic"`` or ``"int8"``.
        representative, check: calibration and check datasets, or None.
        verbose: the progress of the conversion and checks, as `to_tflite` takes it.
        logits_output: the output holding the logits, for a model with several.

    Returns:
        The `ExportReport`.
    """
    report = to_tflite(
        model,
        out,
        quantization=None if quantize == "none" else quantize,
        representative_data=representative,
        check_data=check,
        logits_output=logits_output,
        verbose=verbose,
    )
    print(report.as_table())
    return report


def run(args):
    """Runs ``keras-kd export`` on parsed arguments; returns the exit code."""
    if args.target == "mcu":
        try:
            check_firmware_paths(args.out)
        except ValueError as err:
            raise UsageError(f"OUT: {err}") from None
    model = load_model(args.model)
    try:
        logits_tensor(model, args.logits_output, "MODEL")
    except ValueError as err:
        raise UsageError(f"--logits-output: {err}") from None
    representative = check = None
    if args.data is not None:
        representative, check = _load_data(args.data, model)
    verbose = 0 if args.quiet else "auto"
    report = export_and_report(
        model, args.out, args.quantize, representative, check, verbose, args.logits_output
    )
    if args.target == "mcu":
        files = write_firmware_files(args.out)
        print("\nFirmware files (TFLite-Micro):")
        print("\n".join(f"  {line}" for line in files.summary()))
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
