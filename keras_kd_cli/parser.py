"""The `keras-kd` argument parser: every option with its unit and default.

It imports neither Keras nor TensorFlow, so ``--help`` answers at once.
"""

import argparse
import textwrap

from keras_kd_cli.methods import METHODS

EXIT_OK = 0
EXIT_BUDGET_EXCEEDED = 1
EXIT_USAGE = 2
EXIT_FAILURE = 3
EXIT_INTERRUPTED = 130  # the shell's code for Ctrl-C
EXIT_CODES = """exit codes:
  0  success
  1  budget exceeded: `export --target mcu` wrote the file, but it is over
     --flash-kb or --ram-kb or does not run in TFLite-Micro
  2  usage error: a bad option, or a model, output or --data that cannot be
     used (nothing is trained or written)
  3  failure: the command could not finish (e.g. conversion failed); run it
     again with --verbose for the traceback and TensorFlow's log
  130  interrupted (Ctrl-C); `distill` and `bench` resume when run again"""

# `keras_kd.export.QUANTIZATIONS` with "none" for None (tests keep them equal;
# importing it here would import TensorFlow before the arguments are parsed).
QUANTIZE_CHOICES = ("none", "float16", "dynamic", "int8")
# `keras_kd.models.BUILDERS`, by name (tests keep them equal).
STUDENT_MODELS = (
    "mlperf_tiny_resnet8",
    "resnet8",
    "resnet20",
    "resnet56",
    "resnet8x4",
    "resnet32x4",
    "wrn_16_2",
    "wrn_40_2",
    "vgg8",
    "vgg13",
    "mobilenet_v2",
)
EXPORT_CHOICES = ("float32", *QUANTIZE_CHOICES[1:])
DEFAULT_FLASH_KB = 1024  # nRF52840 (REFERENCES.md)
DEFAULT_RAM_KB = 256
HELP_WIDTH = 78


class UsageError(Exception):
    """An argument a command cannot use; `keras_kd_cli.main` reports it like argparse (exit 2)."""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=28)


def _integer_at_least(text, low):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low:
        raise argparse.ArgumentTypeError(f"must be an integer >= {low} (received {text!r})")
    return value


def positive_int(text):
    return _integer_at_least(text, 1)


def non_negative_int(text):
    return _integer_at_least(text, 0)


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0 (received {text!r})")
    return value


def _command(commands, name, help_text, description):
    parser = commands.add_parser(
        name,
        help=help_text,
        description=textwrap.fill(description, HELP_WIDTH),
        epilog=EXIT_CODES,
        formatter_class=_Formatter,
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,  # keeps a `keras-kd --verbose CMD` given before the command
        help="show TensorFlow's logging and, on failure, the traceback",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars or progress lines (training, teacher caching, export "
        "checks); results are still printed; default: off",
    )
    parser.set_defaults(command_parser=parser)
    return parser


def _add_demo(commands):
    demo = _command(
        commands,
        "demo",
        "distill a CIFAR-10 student on the embedded sample (offline)",
        "Trains the MLPerf Tiny ResNet-8 on the embedded CIFAR-10 sample twice, alone "
        "and distilled (Hinton KD) from a ResNet-20 teacher, and prints their accuracies.",
    )
    demo.add_argument(
        "--epochs",
        type=positive_int,
        default=8,  # keras_kd_cli.demo.EPOCHS (tests keep them equal)
        metavar="N",
        help="epochs of each student run (and of the teacher with --train-teacher); "
        "default: %(default)s",
    )
    demo.add_argument(
        "--out",
        default="demo-output",
        metavar="DIR",
        help="folder the distilled student is saved to, as student-kd.keras (created if "
        "missing); default: %(default)s",
    )
    demo.add_argument(
        "--train-teacher",
        action="store_true",
        help="train the teacher on the sample for --epochs epochs instead of loading the "
        "shipped one; default: off",
    )


def _add_distill(commands):
    distill = _command(
        commands,
        "distill",
        "distill a student from a teacher with any offline method, resumably",
        "Trains STUDENT with a frozen TEACHER by one distillation method (SGD with "
        "Nesterov momentum, cosine learning rate, no augmentation), prints the validation "
        "accuracy of both, saves the student as OUT/student.keras and, with --export, "
        "writes and checks a TFLite file as `keras-kd export` does. An interrupted run "
        "resumes from its last finished epoch when the same command is run again.",
    )
    distill.add_argument(
        "teacher",
        metavar="TEACHER",
        help="the trained teacher, a .keras file that outputs logits (loaded in Keras's safe "
        "mode; a saved keras_kd distiller gives its student)",
    )
    distill.add_argument(
        "student",
        metavar="STUDENT",
        help="the student: a .keras file (trained further from its weights) or the name of a "
        f"keras_kd.models builder, built with the teacher's classes: {', '.join(STUDENT_MODELS)}",
    )
    distill.add_argument(
        "--method",
        choices=list(METHODS),
        default="kd",
        help="kd (Hinton), fitnet, at (attention), gradient_at, nst, ft (factor transfer), "
        "ab (activation boundaries), fsp, rkd, dkd, dist, crd, function_matching, wttm, mlkd; "
        "for logits per pixel or token also cwd, pkd, pairwise (structured KD) and gkd: the "
        "keras_kd.distillers class of that name; default: %(default)s",
    )
    distill.add_argument(
        "--arg",
        action="append",
        default=[],
        dest="method_args",
        metavar="NAME=VALUE",
        help="an argument of the method's class, repeated as needed, e.g. --arg "
        "feature_weight=100 --arg student_layers=stage2,stage3: numbers, integers, true/false "
        "and comma-separated lists. Tapping methods need student_layers (teacher_layers "
        "defaults to the same names); ft, ab and fsp run an init stage of init_epochs "
        "(default: max(1, EPOCHS // 8)). default: the class's defaults",
    )
    distill.add_argument(
        "--data",
        default="sample",
        metavar="SOURCE",
        help="labelled images: 'sample' (the embedded CIFAR-10 sample), 'tfds:NAME' (its "
        "'train' split; accuracy on 'test'), a .tfrecord.gz split file or an image folder "
        "ROOT/CLASS/IMAGE; or, for any task (masks per pixel, tokens per position), an .npz "
        "file of arrays x, y and optionally sample_weight (0 on padding) (for files and "
        "folders the last 10%% are the validation samples); default: %(default)s",
    )
    distill.add_argument(
        "--epochs",
        type=positive_int,
        default=10,
        metavar="N",
        help="epochs of the main stage; default: %(default)s",
    )
    distill.add_argument(
        "--batch-size",
        type=positive_int,
        default=64,
        metavar="N",
        help="images per training step; default: %(default)s",
    )
    distill.add_argument(
        "--learning-rate",
        type=positive_float,
        default=0.05,
        metavar="LR",
        help="initial SGD learning rate, decayed to 0 over each stage (cosine); "
        "default: %(default)s",
    )
    distill.add_argument(
        "--out",
        default="distill-output",
        metavar="DIR",
        help="folder of student.keras, the .tflite file and, while the run is unfinished, "
        "backup/ (created if missing); default: %(default)s",
    )
    distill.add_argument(
        "--export",
        choices=EXPORT_CHOICES,
        default=None,
        help="also write OUT/student-MODE.tflite and print its report, as `keras-kd export "
        "--quantize` does (int8 calibrates on the training images); default: no export",
    )
    distill.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        metavar="N",
        help="use only the first N training and N validation images, for a quick trial run; "
        "default: all",
    )


def _add_export(commands):
    export = _command(
        commands,
        "export",
        "convert a .keras model to a checked .tflite file",
        "Converts a saved Keras model to TFLite (built-in ops only, batch size 1), runs the "
        "file in LiteRT and, for int8, in TFLite-Micro, and prints a report: size, ops, "
        "accuracy against Keras and the TFLite-Micro arena.",
    )
    export.add_argument(
        "model",
        metavar="MODEL",
        help="the .keras file to export, loaded in Keras's safe mode (files holding Python "
        "code, such as a lambda, are refused); a saved keras_kd distiller exports its student",
    )
    export.add_argument(
        "out",
        metavar="OUT",
        help="the .tflite file to write (an existing file is replaced; nothing is written "
        "on a usage error or failure); with --target mcu its .cc, .h and _op_resolver.h "
        "files are written beside it",
    )
    export.add_argument(
        "--quantize",
        choices=QUANTIZE_CHOICES,
        default="none",
        help="none: float32; float16: float16 weights; dynamic: int8 weights, float "
        "activations; int8: full integer with int8 input and output (needs --data); "
        "default: %(default)s",
    )
    export.add_argument(
        "--data",
        default=None,
        metavar="SOURCE",
        help="labelled images: 'sample' (the embedded CIFAR-10 sample), 'tfds:NAME', a "
        ".tfrecord.gz split file or an image folder ROOT/CLASS/IMAGE, with the model's input "
        "shape; or an .npz file of arrays x and y (any task: y one class per pixel or token). "
        "The first 200 training samples calibrate int8; the first 1,000 validation samples "
        "measure accuracy. default: none (one random input checks that the file runs)",
    )
    export.add_argument(
        "--logits-output",
        default=None,
        metavar="NAME",
        help="for a model with several outputs (e.g. a detector's class and box heads), the "
        "one holding the logits, whose classes are checked (--data labels are its labels); "
        "every output is exported and compared with Keras; default: the model's only output",
    )
    export.add_argument(
        "--target",
        choices=["mcu"],
        default=None,
        help="mcu: check the file against microcontroller budgets: it must run in "
        "TFLite-Micro and fit --flash-kb and --ram-kb (needs --quantize int8). Also writes "
        "the firmware files next to OUT (for OUT=student.tflite: student.cc and student.h, "
        "the model as a C array g_model / g_model_len, and student_op_resolver.h, the ops "
        "to register with tflite::MicroMutableOpResolver) and prints the int8 input and "
        "output scale and zero point; default: no check, no firmware files",
    )
    export.add_argument(
        "--flash-kb",
        type=positive_int,
        default=None,
        metavar="KIB",
        help="flash budget for the .tflite file, in KiB (1 KiB = 1,024 bytes); with --target "
        "mcu only. A larger file is still written and the command exits with 1. "
        f"default: {DEFAULT_FLASH_KB} (nRF52840)",
    )
    export.add_argument(
        "--ram-kb",
        type=positive_int,
        default=None,
        metavar="KIB",
        help="RAM budget for the TFLite-Micro tensor arena, in KiB (the smallest arena the "
        "interpreter runs the model in, plus 16 bytes of alignment; your application's own "
        "RAM comes on top); with --target mcu only. A larger arena: the file is still "
        f"written and the command exits with 1. default: {DEFAULT_RAM_KB} (nRF52840)",
    )


def _add_bench(commands):
    bench = _command(
        commands,
        "bench",
        "run the resumable method benchmark",
        "Trains one student per distillation method (a row) under one protocol, records each "
        "row's accuracy, and prints the table. A finished row is never rerun; an interrupted "
        "one resumes from its last finished epoch.",
    )
    bench.add_argument(
        "--data",
        default="sample",
        metavar="SOURCE",
        help="'sample', the shared cifar10-train.tfrecord.gz or tfds:NAME (e.g. "
        "tfds:cifar100); default: %(default)s",
    )
    bench.add_argument(
        "--protocol",
        default="cpu",
        choices=["cpu", "cifar100"],
        help="cpu: ResNet-20 -> MLPerf Tiny ResNet-8, 10 epochs; cifar100: RepDistiller's "
        "240-epoch ResNet-56 -> ResNet-20 recipe (keras_kd_cli.bench.protocols); "
        "default: %(default)s",
    )
    bench.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="TFDS data folder, with --data tfds:NAME; default: TFDS's own",
    )
    bench.add_argument(
        "--out",
        default="benchmarks/results/sample-v2",
        metavar="DIR",
        help="folder of each row's JSON record, .keras student and int8 .tflite file; "
        "default: %(default)s",
    )
    bench.add_argument(
        "--teacher",
        default=None,
        metavar="MODEL",
        help="teacher .keras file; default: the shipped ResNet-20 for the sample, otherwise "
        "one the runner trains once into --out",
    )
    bench.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        metavar="N",
        help="epochs of every row; default: the protocol's (cpu: 10, cifar100: 240)",
    )
    bench.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="images per training step; default: the protocol's (cpu: 128, cifar100: 64)",
    )
    bench.add_argument(
        "--rows",
        default=None,
        metavar="ROW,...",
        help="comma-separated rows to run, e.g. kd,at; default: every row of the protocol",
    )
    bench.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="the rows' seed (student initialization, data order); seed 0 records in "
        "--out, another seed in --out/seed-N (the table gives the mean and standard "
        "deviation over the seeds recorded); default: %(default)s",
    )
    bench.add_argument(
        "--table-only",
        action="store_true",
        help="only print the table of the rows recorded in --out; default: off",
    )


def build_parser():
    """The argument parser; it imports neither Keras nor TensorFlow."""
    parser = argparse.ArgumentParser(
        prog="keras-kd",
        description="Knowledge distillation for Keras 3, down to TFLite.\n"
        "`keras-kd COMMAND --help` describes each command.",
        epilog=EXIT_CODES,
        formatter_class=_Formatter,
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's logging and, on failure, the traceback",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo(commands)
    _add_distill(commands)
    _add_export(commands)
    _add_bench(commands)
    return parser
