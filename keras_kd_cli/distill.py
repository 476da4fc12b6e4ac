"""`keras-kd distill`: distill a student from a saved teacher, resumably.

The arguments were parsed and checked by `keras_kd_cli` before this module
(and TensorFlow) was imported: the method's arguments are typed, the model
files exist, and an interrupted run's backup was made under the same
options. The recipe is the edge one of `keras_kd.recipes`: SGD with Nesterov
momentum, cosine decay over each stage, no augmentation, seed 0.

Files under ``--out``:
    ``backup/``: while the run is unfinished, the last finished epoch of each
        stage (`keras.callbacks.BackupAndRestore`) and the options it runs
        under; removed once the student is saved (and exported).
    ``student.keras``: the distilled student, written once training is over.
    ``student-MODE.tflite``: with ``--export MODE``.
"""

import math
import os
import shutil

import keras
import numpy as np

from keras_kd import data, distillers, labels, models, recipes
from keras_kd._io import save_model_atomically, write_json_atomically
from keras_kd._progress import resolve_verbose
from keras_kd.evaluation import top1_accuracy
from keras_kd.export.convert import check_int8_supported
from keras_kd_cli import export as export_cli
from keras_kd_cli.checks import (
    DISTILL_BACKUP,
    DISTILL_SETTINGS,
    INIT_DONE_FILE,
    backup_has_progress,
    distill_settings,
)
from keras_kd_cli.methods import METHODS, SET_BY_COMMAND
from keras_kd_cli.parser import EXIT_OK, UsageError

SEED = 0
EVALUATION_BATCH = 250
STUDENT_FILE = "student.keras"
INIT, MAIN = "init", "main"  # the distillers' stages


def progress_verbosity(quiet=False):
    """The commands' verbosity, for `fit` and the library's progress alike.

    Args:
        quiet: the ``--quiet`` flag.

    Returns:
        0 with ``quiet``; else 1 (a progress bar) on a terminal, 2 (one line
        per epoch or stage) in a log or when ``CI`` is set.
    """
    return 0 if quiet else resolve_verbose("auto")


def _datasets(source, limit):
    validation_split = "test" if source.startswith("tfds:") else "validation"
    try:
        train = data.load(source, "train")
        validation = data.load(source, validation_split)
    except ValueError as err:
        raise UsageError(f"--data: {err}") from None
    if limit is not None:
        train, validation = train.take(limit), validation.take(limit)
    return train, validation


def _check_npz_labels(path, teacher):
    """The labels of an .npz file against the teacher's classes, before anything trains."""
    with np.load(path, allow_pickle=False) as archive:
        y = archive["y"]
    shape = teacher.outputs[0].shape
    try:
        labels.check_label_array(y, shape[-1], positions=tuple(shape[1:-1]))
    except ValueError as err:
        raise UsageError(f"--data {path!r}: {err}") from None


def _pairs(dataset):
    """``(x, y)`` of a dataset that may carry sample weights (an .npz file's)."""
    if len(dataset.element_spec) == 2:
        return dataset
    return dataset.map(lambda x, y, *_: (x, y))


def _count(dataset):
    count = int(dataset.cardinality())
    if count < 0:  # unknown: count the records once
        count = int(dataset.reduce(0, lambda n, _: n + 1))
    return count


def _student(args, teacher, train):
    if args.student_builder is None:
        return export_cli.load_model(args.student, "STUDENT")
    if len(teacher.outputs[0].shape) != 2:
        raise UsageError(
            f"STUDENT {args.student!r} builds an image classifier, but the teacher outputs "
            f"logits with positions, shape {tuple(teacher.outputs[0].shape)} (pixels or "
            "tokens); give the student as a .keras file of the same task. Received: "
            f"STUDENT={args.student!r}"
        )
    classes = teacher.outputs[0].shape[-1]
    shape = export_cli.image_shape(train)
    return models.BUILDERS[args.student_builder](num_classes=classes, input_shape=shape)


def _distiller(args, student, teacher, num_samples):
    class_name = METHODS[args.method]
    arguments = dict(args.method_arguments)
    if "num_samples" in SET_BY_COMMAND.get(args.method, ()):
        arguments["num_samples"] = num_samples
    try:
        return getattr(distillers, class_name)(student=student, teacher=teacher, **arguments)
    except (ValueError, TypeError) as err:
        raise UsageError(f"--method {args.method} ({class_name}): {err}") from None


def run(args):
    """Runs ``keras-kd distill`` on parsed, checked arguments; returns the exit code."""
    teacher = export_cli.load_model(args.teacher, "TEACHER")
    train_raw, validation_raw = _datasets(args.data, args.limit)
    if args.data.endswith(".npz"):
        _check_npz_labels(args.data, teacher)
    export_cli.check_images_fit(train_raw, teacher, "TEACHER", args.data)
    keras.utils.set_random_seed(SEED)
    student = _student(args, teacher, train_raw)
    export_cli.check_images_fit(train_raw, student, "STUDENT", args.data)
    if args.export == "int8":
        try:
            check_int8_supported(student)
        except ValueError as err:
            raise UsageError(f"--export int8: {err}") from None
    num_samples = _count(train_raw)
    distiller = _distiller(args, student, teacher, num_samples)
    train_examples = train_raw
    if any(term.uses_sample_index for term in distiller.all_terms):
        train_examples = data.with_sample_index(train_raw)

    backup = os.path.join(args.out, DISTILL_BACKUP)
    if backup_has_progress(backup):
        print(f"Resuming the interrupted run saved in {backup}")
    write_json_atomically(distill_settings(args), os.path.join(backup, DISTILL_SETTINGS))
    train = data.batch_for_training(train_examples, args.batch_size, seed=SEED)
    validation = validation_raw.batch(EVALUATION_BATCH).cache()
    steps = math.ceil(num_samples / args.batch_size)
    stages = [(MAIN, args.epochs)]
    if INIT in distiller.stages and distiller.init_epochs:
        stages.insert(0, (INIT, distiller.init_epochs))
        if not os.path.exists(os.path.join(backup, INIT_DONE_FILE)):
            print(f"Init stage of {type(distiller).__name__}: {distiller.init_epochs} epoch(s)")
    distiller.compile(metrics=["accuracy"])
    print(f"Distilling {student.name} from {teacher.name} with {type(distiller).__name__}")
    distiller.fit_stages(
        stages,
        optimizer=lambda stage, epochs: recipes.cifar_sgd(args.learning_rate, steps * epochs),
        backup_dir=backup,
        x=train,
        validation_data=validation,
        verbose=progress_verbosity(args.quiet),
    )

    student_path = os.path.join(args.out, STUDENT_FILE)
    save_model_atomically(distiller.student, student_path)
    print(f"\n{'model':<30} {'params':>9} {'val acc':>8}")
    for role, model in (("teacher", teacher), ("student", distiller.student)):
        accuracy = top1_accuracy(model, validation)
        print(f"{role + ' ' + model.name:<30} {model.count_params():>9,} {accuracy:>8.2%}")
    print(f"\nStudent saved to {student_path} (a plain Keras model).")
    if args.export is not None:
        path = os.path.join(args.out, f"student-{args.export}.tflite")
        quantize = "none" if args.export == "float32" else args.export
        representative, check = export_cli.calibration_and_check(_pairs(train_raw), validation_raw)
        print(f"\nExporting to {path}\n")
        export_cli.export_and_report(
            distiller.student, path, quantize, representative, check, progress_verbosity(args.quiet)
        )
    shutil.rmtree(backup)
    return EXIT_OK
