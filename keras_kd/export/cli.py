"""`keras-kd export`: convert a saved model and print the export report."""

import keras

from keras_kd import data
from keras_kd.export import QUANTIZATIONS, to_tflite

DEFAULT_FLASH_KB = 1024  # nRF52840 (REFERENCES.md)
DEFAULT_RAM_KB = 256
CALIBRATION_BATCH = 100


def add_parser(commands, positive_int):
    parser = commands.add_parser("export", help="convert a .keras model to a checked .tflite file")
    parser.add_argument(
        "model", help="a saved .keras model (a saved distiller exports its student)"
    )
    parser.add_argument("out", help="output .tflite path")
    parser.add_argument(
        "--quantize",
        choices=["none", *[q for q in QUANTIZATIONS if q]],
        default="none",
        help="quantization mode (int8 is full integer with int8 input and output)",
    )
    parser.add_argument(
        "--data",
        default=None,
        help="'sample', 'tfds:NAME', a .tfrecord.gz split file or an image folder: its train "
        "split calibrates int8, its validation split checks accuracy",
    )
    parser.add_argument(
        "--target", choices=["mcu"], default=None, help="check microcontroller budgets"
    )
    parser.add_argument("--flash-kb", type=positive_int, default=DEFAULT_FLASH_KB)
    parser.add_argument("--ram-kb", type=positive_int, default=DEFAULT_RAM_KB)
    return parser


def run(args, parser):
    quantization = None if args.quantize == "none" else args.quantize
    if args.target == "mcu" and quantization != "int8":
        parser.error(f"--target mcu needs --quantize int8 (received --quantize {args.quantize})")
    if quantization == "int8" and args.data is None:
        parser.error("--quantize int8 needs --data for calibration (e.g. --data sample)")
    try:
        model = keras.saving.load_model(args.model)
    except (OSError, ValueError) as err:
        parser.error(f"cannot load MODEL {args.model!r}: {str(err).splitlines()[0]}")
    representative = check = None
    if args.data is not None:
        try:
            representative = data.load(args.data, "train").batch(CALIBRATION_BATCH).take(2)
            check = data.load(args.data, "validation").batch(250)
        except ValueError as err:
            parser.error(f"--data: {err}")
    report = to_tflite(
        model,
        args.out,
        quantization=quantization,
        representative_data=representative,
        check_data=check,
    )
    print(report.as_table())
    if args.target == "mcu":
        return _check_budgets(report, args.flash_kb, args.ram_kb)
    return 0


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
        return 1
    print(f"\nMCU check passed: fits {flash_kb} KiB flash / {ram_kb} KiB RAM.")
    return 0
