"""The checks each command makes before `keras_kd` (and TensorFlow) is imported.

Each raises `UsageError` (exit 2) for an argument the command cannot use,
before anything is trained or written.
"""

import json
import os
import zipfile

from keras_kd_cli.methods import method_arguments
from keras_kd_cli.parser import STUDENT_MODELS, UsageError

DISTILL_BACKUP = "backup"
DISTILL_SETTINGS = "settings.json"
INIT_DONE_FILE = "init-done.weights.h5"
_PROGRESS = ("init", "main", INIT_DONE_FILE)  # the stages' BackupAndRestore folders


def backup_has_progress(backup):
    """True when the backup folder holds a finished epoch or stage to resume."""
    return any(os.path.exists(os.path.join(backup, name)) for name in _PROGRESS)


# The options that decide what `keras-kd distill` trains: an interrupted run
# resumes only under the same ones.
_TRAINING_OPTIONS = ("student", "method", "data", "epochs", "batch_size", "learning_rate", "limit")


def check_model_file(path, name):
    """Refuses a ``path`` (the argument ``name``) that is missing, a folder or not a Keras file."""
    if not os.path.exists(path):
        raise UsageError(f"cannot load {name}: no such file. Received: {name}={path!r}")
    if os.path.isdir(path):
        raise UsageError(
            f"cannot load {name}: it is a folder; give a .keras file (model.save('name.keras')). "
            f"Received: {name}={path!r}"
        )
    if not path.endswith(".h5") and not zipfile.is_zipfile(path):
        raise UsageError(
            f"cannot load {name}: it is corrupt or not a Keras file (a .keras file is a zip "
            f"archive and this file is not one: truncated, or another format). "
            f"Received: {name}={path!r}"
        )


def check_export_arguments(args):
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
    check_model_file(args.model, "MODEL")
    if os.path.isdir(args.out):
        raise UsageError(
            "OUT is a folder; give the .tflite file to write, e.g. "
            f"{os.path.join(args.out, 'model.tflite')}. Received: OUT={args.out!r}"
        )


def distill_settings(args):
    """What a `keras-kd distill` run trains, as JSON-compatible values."""
    settings = {name: getattr(args, name) for name in _TRAINING_OPTIONS}
    settings["teacher"] = os.path.abspath(args.teacher)
    if args.student_builder is None:
        settings["student"] = os.path.abspath(args.student)
    settings["method_arguments"] = args.method_arguments
    return settings


def check_distill_arguments(args):
    """The distill checks that need neither the models nor TensorFlow.

    Sets ``args.method_arguments`` (typed ``--arg`` values) and
    ``args.student_builder`` (the `keras_kd.models` name, or None for a file).
    """
    try:
        args.method_arguments = method_arguments(args.method, args.method_args, args.epochs)
    except ValueError as err:
        raise UsageError(str(err)) from None
    check_model_file(args.teacher, "TEACHER")
    args.student_builder = None
    if args.student in STUDENT_MODELS and not os.path.exists(args.student):
        args.student_builder = args.student
    elif os.path.exists(args.student) or args.student.endswith((".keras", ".h5")):
        check_model_file(args.student, "STUDENT")
    else:
        raise UsageError(
            "STUDENT must be a .keras file or a keras_kd.models name "
            f"({', '.join(STUDENT_MODELS)}). Received: STUDENT={args.student!r}"
        )
    named = args.data == "sample" or args.data.startswith("tfds:")
    if not named and not os.path.exists(args.data):
        raise UsageError(
            "--data must be 'sample', 'tfds:NAME', or a .tfrecord.gz file or an image folder "
            f"that exists. Received: --data={args.data!r} (no such path)"
        )
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(
            "--out must be a folder (student.keras is written into it); this is a file. "
            f"Received: --out={args.out!r}"
        )
    _check_backup(args)


def _check_backup(args):
    """Refuses to resume an interrupted run under other training options."""
    path = os.path.join(args.out, DISTILL_BACKUP, DISTILL_SETTINGS)
    if not os.path.exists(path) or not backup_has_progress(os.path.dirname(path)):
        return  # nothing trained yet: a run that failed before its first epoch
    with open(path) as f:
        saved = json.load(f)
    current = json.loads(json.dumps(distill_settings(args)))
    changed = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
    if changed:
        details = "; ".join(f"{k}: {saved.get(k)!r} then, {current.get(k)!r} now" for k in changed)
        raise UsageError(
            f"{os.path.join(args.out, DISTILL_BACKUP)} holds an interrupted run made with other "
            "options: run the same command again to resume it, or delete that folder (or "
            f"choose another --out) to start afresh. Received: {details}"
        )


CHECKS = {"export": check_export_arguments, "distill": check_distill_arguments}
