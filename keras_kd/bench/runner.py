"""Resumable benchmark runner: one JSON, one saved student and one int8 file
per row; a finished row is never rerun, an interrupted row resumes from its
last finished epoch (`keras.callbacks.BackupAndRestore`)."""

import json
import math
import os
import platform
import shutil
import time

import keras
import tensorflow as tf

from keras_kd import data, models, recipes
from keras_kd._io import atomic_path, save_model_atomically
from keras_kd.bench.rows import INIT_LEARNING_RATES, ROWS, init_epochs, student
from keras_kd.distillers import BornAgain
from keras_kd.evaluation import top1_accuracy
from keras_kd.export import to_tflite

LEARNING_RATE = 0.05
SEED = 0
CALIBRATION_BATCHES = 4


def _optimizer(epochs, steps_per_epoch, learning_rate=LEARNING_RATE):
    return recipes.cifar_sgd(learning_rate, epochs * steps_per_epoch)


def _backup(out, row, stage):
    return keras.callbacks.BackupAndRestore(os.path.join(out, f"{row}-{stage}-backup"))


def _fit_trainer(trainer, row, init_stage, train, epochs, steps, out):
    """Runs the optional init stage, then the main stage, each resumable."""
    marker = os.path.join(out, f"{row}-init.weights.h5")
    main_stage = trainer.stage
    if init_stage is not None:
        if os.path.exists(marker):
            trainer.load_weights(marker)
        else:
            trainer.set_stage(init_stage)
            n = init_epochs(epochs)
            trainer.compile(
                optimizer=_optimizer(n, steps, INIT_LEARNING_RATES.get(row, LEARNING_RATE))
            )
            trainer.fit(train, epochs=n, callbacks=[_backup(out, row, "init")], verbose=2)
            with atomic_path(marker, suffix=".weights.h5") as tmp:
                trainer.save_weights(tmp)
        main_stage = trainer.STAGES[-1]
    trainer.set_stage(main_stage)
    trainer.compile(optimizer=_optimizer(epochs, steps), metrics=["accuracy"])
    trainer.fit(train, epochs=epochs, callbacks=[_backup(out, row, "main")], verbose=2)
    if os.path.exists(marker):
        os.remove(marker)
    return trainer.deployable


def _fit_alone(model, train, epochs, steps, out, row):
    """Trains a plain model on the labels alone (the baseline rows), resumably."""
    model.compile(
        optimizer=_optimizer(epochs, steps),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(train, epochs=epochs, callbacks=[_backup(out, row, "main")], verbose=2, shuffle=False)
    return model


def _train_row(row, teacher, train_raw, epochs, batch_size, out):
    builder, init_stage, augment, _ = ROWS.get(row, (None, None, False, None))
    train = data.batch_for_training(train_raw, batch_size, augment=augment, seed=SEED)
    steps = math.ceil(int(train_raw.cardinality()) / batch_size)
    keras.utils.set_random_seed(SEED)
    if row == "resnet20_alone":
        return _fit_alone(models.resnet20(), train, epochs, steps, out, row), {}
    if row == "born_again":
        ban = BornAgain(
            teacher, models.resnet20, generations=2, directory=os.path.join(out, "born_again")
        )
        ban.compile(optimizer=lambda: _optimizer(epochs, steps), metrics=["accuracy"])
        ban.fit(train, epochs=epochs, verbose=2)
        return ban.student, {"generation1": ban.models[0], "ensemble": ban.ensemble()}
    if builder is None:
        return _fit_alone(student(), train, epochs, steps, out, row), {}
    trainer = builder(teacher)
    deployable = _fit_trainer(trainer, row, init_stage, train, epochs, steps, out)
    extra = {}
    if row == "byot":
        extra = {f"exit{i}": m for i, m in enumerate(trainer.exits[:-1])}
    return deployable, extra


def run_row(row, teacher, train_raw, val, epochs, batch_size, out, command):
    """Trains one row unless its JSON exists; returns its record."""
    record_path = os.path.join(out, f"{row}.json")
    if os.path.exists(record_path):
        with open(record_path) as f:
            return json.load(f)
    start = time.time()
    try:
        deployable, extra = _train_row(row, teacher, train_raw, epochs, batch_size, out)
    except FloatingPointError as err:
        record = {"method": row, "status": "diverged", "error": str(err), "epochs": epochs}
        record.update(command=command, seconds=round(time.time() - start, 1))
        with atomic_path(record_path, suffix=".json") as tmp, open(tmp, "w") as f:
            json.dump(record, f, indent=2)
        print(f"[bench] {row}: diverged ({err})")
        return record
    seconds = time.time() - start
    save_model_atomically(deployable, os.path.join(out, f"{row}.keras"))
    calibration = data.batch_for_training(train_raw, 64, shuffle=False).take(CALIBRATION_BATCHES)
    report = to_tflite(
        deployable,
        os.path.join(out, f"{row}-int8.tflite"),
        quantization="int8",
        representative_data=calibration,
        check_data=val,
        check_samples=None,
    )
    hyperparameters = ROWS[row][3] if row in ROWS else SPECIAL_ROWS[row]
    record = {
        "method": row,
        "status": "ok",
        "hyperparameters": hyperparameters,
        "epochs": epochs,
        "init_epochs": init_epochs(epochs) if ROWS.get(row, (0, None))[1] else 0,
        "batch_size": batch_size,
        "learning_rate": LEARNING_RATE,
        "seed": SEED,
        "seconds": round(seconds, 1),
        "validation_accuracy": top1_accuracy(deployable, val),
        "parameters": deployable.count_params(),
        "int8_bytes": report.size_bytes,
        "int8_check_samples": report.samples,
        "int8_check_keras_accuracy": report.keras_accuracy,
        "int8_litert_accuracy": report.litert_accuracy,
        "int8_micro_accuracy": report.micro_accuracy,
        "int8_arena_bytes": report.arena_bytes,
        "extra_accuracies": {name: top1_accuracy(m, val) for name, m in extra.items()},
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}",
        "command": command,
    }
    with atomic_path(record_path, suffix=".json") as tmp, open(tmp, "w") as f:
        json.dump(record, f, indent=2)
    for folder in os.listdir(out):
        if folder.startswith(f"{row}-") and folder.endswith("-backup"):
            shutil.rmtree(os.path.join(out, folder), ignore_errors=True)
    print(f"[bench] {row}: {record['validation_accuracy']:.2%} in {seconds:.0f} s")
    return record


# Born-Again trains the teacher's architecture; its baseline is that
# architecture alone under the same protocol.
SPECIAL_ROWS = {
    "resnet20_alone": {"architecture": "resnet20", "note": "baseline of born_again"},
    "born_again": {"generations": 2, "architecture": "resnet20"},
}
ALL_ROWS = [*ROWS, *SPECIAL_ROWS]


def run_bench(source, out, epochs, batch_size, teacher_path, rows=None, command=""):
    """Runs the requested rows (all by default) in order; returns their records."""
    unknown = sorted(set(rows or []) - set(ALL_ROWS))
    if unknown:
        raise ValueError(f"`rows` must be among {ALL_ROWS}. Received: unknown rows {unknown}")
    os.makedirs(out, exist_ok=True)
    teacher = keras.saving.load_model(teacher_path)
    train_raw = data.load(source, "train").cache()
    val = data.load(source, "validation").batch(250).cache()
    teacher_record = os.path.join(out, "teacher.json")
    if not os.path.exists(teacher_record):
        with open(teacher_record, "w") as f:
            json.dump(
                {
                    "method": "teacher",
                    "architecture": teacher.name,
                    "validation_accuracy": top1_accuracy(teacher, val),
                    "parameters": teacher.count_params(),
                    "source": teacher_path,
                },
                f,
                indent=2,
            )
    return [
        run_row(row, teacher, train_raw, val, epochs, batch_size, out, command)
        for row in (rows or ALL_ROWS)
    ]
