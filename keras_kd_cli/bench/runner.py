"""Resumable benchmark runner: one JSON, one saved student and one int8 file
per row; a finished row is never rerun, an interrupted row resumes from its
last finished epoch (`keras.callbacks.BackupAndRestore`) and its seconds count
every process that worked on it (`keras_kd_cli.bench.clock`). Architectures,
epochs and optimizer come from a protocol (`keras_kd_cli.bench.protocols`); the
teacher is trained once by the runner unless a saved one is given."""

import dataclasses
import json
import math
import os
import platform
import shutil

import keras
import tensorflow as tf

from keras_kd import data
from keras_kd._io import save_model_atomically, write_json_atomically
from keras_kd._progress import say
from keras_kd.cache import cache_teacher_outputs
from keras_kd.distillers import KD, BornAgain, Distiller, TeacherAssistantChain, ensemble_teacher
from keras_kd.evaluation import top1_accuracy
from keras_kd.export import to_tflite
from keras_kd.models import cifar_resnet, count_macs
from keras_kd_cli.bench.clock import RowClock
from keras_kd_cli.bench.protocols import PROTOCOLS, Protocol
from keras_kd_cli.bench.provenance import file_digest, fingerprint, provenance
from keras_kd_cli.bench.rows import (
    ASSISTANT_DEPTHS,
    INDEXED_ROWS,
    INIT_LEARNING_RATES,
    KD_SETTINGS,
    MAIN_LEARNING_RATES,
    PREREQUISITES,
    ROWS,
    SPECIAL_ROWS,
)
from keras_kd_cli.demo import PRETRAINED_TEACHER

SEED = 0
CALIBRATION_BATCHES = 4
CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _backup(out, row, stage):
    return keras.callbacks.BackupAndRestore(os.path.join(out, f"{row}-{stage}-backup"))


def _fit_trainer(trainer, row, init_stage, train, protocol, steps, out):
    """Runs the optional init stage, then the main stage, resumable in
    ``out/ROW-backup`` (`fit_stages`; the folder goes once the row is recorded)."""
    stages = [("main", protocol.epochs)]
    if init_stage is not None:
        stages.insert(0, (init_stage, protocol.init_stage_epochs(protocol.epochs)))

    def optimizer(stage, epochs):
        if stage == "main":
            return _row_optimizer(protocol, steps, row)
        return protocol.optimizer(
            INIT_LEARNING_RATES.get(row, protocol.learning_rate), epochs, steps
        )

    trainer.compile(metrics=["accuracy"])
    backup = os.path.join(out, f"{row}-backup")
    trainer.fit_stages(stages, optimizer=optimizer, backup_dir=backup, x=train, verbose=2)
    return trainer.deployable


def _steps_per_epoch(train_raw, protocol):
    return math.ceil(int(train_raw.cardinality()) / protocol.batch_size)


def row_learning_rate(protocol, row):
    """The main stage's peak learning rate of ``row``: the protocol's, unless
    `MAIN_LEARNING_RATES` names the row (an authors' own rate, scaled to the
    protocol's batch size)."""
    return MAIN_LEARNING_RATES.get(row, {}).get(protocol.name, protocol.learning_rate)


def _row_optimizer(protocol, steps, row=None):
    return protocol.optimizer(row_learning_rate(protocol, row), protocol.epochs, steps)


def _fit_alone(model, train, epochs, optimizer, backup):
    """Trains a plain model on the labels alone (baselines, the teacher), resumably."""
    model.compile(optimizer=optimizer, loss=CE, metrics=["accuracy"])
    model.fit(train, epochs=epochs, callbacks=[backup], verbose=2, shuffle=False)
    return model


def assistant_chain(teacher, protocol, directory):
    """The ``ta_chain`` row's `TeacherAssistantChain`: teacher -> a CIFAR
    ResNet of `ASSISTANT_DEPTHS` [teacher] -> the protocol's student, each stage
    KD with the ``kd`` row's settings, kept under ``directory``."""
    decay = {"weight_decay": protocol.kernel_l2} if protocol.kernel_l2 else {}
    depth, classes = ASSISTANT_DEPTHS[protocol.teacher], protocol.num_classes
    return TeacherAssistantChain(
        teacher,
        lambda: cifar_resnet(depth, num_classes=classes, **decay),
        protocol.build_student,
        directory=directory,
        **KD_SETTINGS,
    )


def row_data(row, train_raw, protocol, seed=SEED):
    """``(batched training data, builder arguments)`` of a row, shuffled with
    ``seed``: rows in `INDEXED_ROWS` get each sample's index and ``num_samples``."""
    augment = ROWS.get(row, (None, None, False, None))[2] or protocol.augment
    if row not in INDEXED_ROWS:
        train = data.batch_for_training(train_raw, protocol.batch_size, augment=augment, seed=seed)
        return train, {}
    indexed = data.with_sample_index(train_raw)
    train = data.batch_for_training(indexed, protocol.batch_size, augment=augment, seed=seed)
    return train, {"num_samples": int(train_raw.cardinality())}


def _train_row(row, teacher, train_raw, protocol, out, seed):
    builder, init_stage, augment, _ = ROWS.get(row, (None, None, False, None))
    augment = augment or protocol.augment
    train, data_kwargs = row_data(row, train_raw, protocol, seed)
    steps = _steps_per_epoch(train_raw, protocol)
    keras.utils.set_random_seed(seed)
    optimizer, backup = _row_optimizer(protocol, steps), _backup(out, row, "main")
    if row == "resnet20_alone":
        return _fit_alone(protocol.build_teacher(), train, protocol.epochs, optimizer, backup), {}
    if row == "born_again":
        directory = os.path.join(out, "born_again")
        ban = BornAgain(teacher, protocol.build_teacher, generations=2, directory=directory)
        ban.compile(optimizer=lambda: _row_optimizer(protocol, steps), metrics=["accuracy"])
        ban.fit(train, epochs=protocol.epochs, verbose=2)
        return ban.student, {"generation1": ban.models[0], "ensemble": ban.ensemble()}
    if row == "ensemble_kd":
        path = os.path.join(out, "resnet20_alone.keras")
        if not os.path.exists(path):
            raise ValueError(
                "Row 'ensemble_kd' takes its second teacher from the 'resnet20_alone' row's "
                "saved model, which is missing (run that row first; the runner does unless "
                f"it diverged). Received: out={out!r} without resnet20_alone.keras"
            )
        teachers = [teacher, keras.saving.load_model(path)]
        ensemble = ensemble_teacher(teachers, temperature=KD_SETTINGS["temperature"])
        trainer = KD(student=protocol.build_student(), teacher=ensemble, **KD_SETTINGS)
        train = _cached_if_possible(trainer, train, train_raw, protocol, augment, seed)
        deployable = _fit_trainer(trainer, row, None, train, protocol, steps, out)
        return deployable, {"teacher_ensemble": ensemble}
    if row == "ta_chain":
        chain = assistant_chain(teacher, protocol, os.path.join(out, "ta_chain"))
        chain.compile(optimizer=lambda: _row_optimizer(protocol, steps), metrics=["accuracy"])
        chain.fit(train, epochs=protocol.epochs, verbose=2)
        return chain.student, {"assistant": chain.assistants[0]}
    if builder is None:
        model = protocol.build_student()
        return _fit_alone(model, train, protocol.epochs, optimizer, backup), {}
    if init_stage is None:
        trainer = builder(teacher, protocol.build_student, **data_kwargs)
    else:
        n = protocol.init_stage_epochs(protocol.epochs)
        trainer = builder(teacher, protocol.build_student, init_epochs=n, **data_kwargs)
    train = _cached_if_possible(trainer, train, train_raw, protocol, augment, seed)
    deployable = _fit_trainer(trainer, row, init_stage, train, protocol, steps, out)
    extra = {}
    if row == "byot":
        extra = {f"exit{i}": m for i, m in enumerate(trainer.exits[:-1])}
    return deployable, extra


def _cached_if_possible(trainer, train, train_raw, protocol, augment, seed):
    """The training data with the teacher's logits cached, for rows that read
    nothing else of the teacher and see each image unchanged; else ``train``."""
    if augment or not _teacher_logits_only(trainer):
        return train
    cached = cache_teacher_outputs(trainer, train_raw).dataset
    return data.batch_for_training(cached, protocol.batch_size, seed=seed)


def _teacher_logits_only(trainer):
    """Whether ``trainer`` is an offline distiller reading only the teacher's
    logits of the batch as it comes (not `FunctionMatching`, which shows it a
    new view each step): those rows read them from `keras_kd.cache` (computed
    once, a teacher pass per step saved; the same logits up to float rounding)."""
    if not isinstance(trainer, Distiller) or not trainer.teacher_cacheable:
        return False
    terms = [t for t in trainer.all_terms if t.weight > 0]
    return not any(t.teacher_layers or t.uses_input_gradient for t in terms)


def _row_definition(row, protocol, out):
    if row in ROWS:
        _, init_stage, augment, hyperparameters = ROWS[row]
        return {"hyperparameters": hyperparameters, "init": init_stage, "augment": augment}
    definition = dict(SPECIAL_ROWS[row])
    for needed in PREREQUISITES.get(row, []):
        definition[f"{needed}.keras"] = file_digest(os.path.join(out, f"{needed}.keras"))
    if row == "ta_chain":
        definition["assistant_depth"] = ASSISTANT_DEPTHS[protocol.teacher]
    return definition


def run_row(
    row,
    teacher,
    train_raw,
    val,
    protocol,
    out,
    command,
    fingerprint=None,
    verbose="auto",
    seed=SEED,
):
    """Trains one row unless its JSON exists under the same ``fingerprint``
    (protocol, row definition, data, teacher, seed); returns its record.
    ``verbose`` is the export check's progress and the result line's (0:
    silent); ``seed`` sets the student's initialization and the data order.

    Raises:
        ValueError: ``out`` holds a record of this row made under another
            fingerprint (another protocol, row definition, data or teacher, or
            an older keras_kd): it is never reused, and never overwritten.
    """
    record_path = os.path.join(out, f"{row}.json")
    if os.path.exists(record_path):
        with open(record_path) as f:
            record = json.load(f)
        if record.get("fingerprint") != fingerprint:
            raise ValueError(
                f"`out` holds a record of row {row!r} made under another protocol, row "
                "definition, data, teacher or keras_kd version, which cannot be resumed or "
                "mixed with new rows. Use a new `--out` folder (or move the old records "
                f"away). Received: out={out!r} with {row}.json of fingerprint "
                f"{record.get('fingerprint')!r}, expected {fingerprint!r}"
            )
        return record
    clock = RowClock(os.path.join(out, f"{row}-clock.json"))
    try:
        with clock:
            deployable, extra = _train_row(row, teacher, train_raw, protocol, out, seed)
    except FloatingPointError as err:
        record = {
            "method": row,
            "fingerprint": fingerprint,
            **provenance(),
            "status": "diverged",
            "seed": seed,
            "error": str(err),
            "epochs": protocol.epochs,
            "command": command,
            "seconds": round(clock.seconds, 1),
        }
        write_json_atomically(record, record_path)
        clock.remove()
        say(f"[bench] {row}: diverged ({err})", verbose)
        return record
    seconds = clock.seconds
    save_model_atomically(deployable, os.path.join(out, f"{row}.keras"))
    calibration = data.batch_for_training(train_raw, 64, shuffle=False).take(CALIBRATION_BATCHES)
    report = to_tflite(
        deployable,
        os.path.join(out, f"{row}-int8.tflite"),
        quantization="int8",
        representative_data=calibration,
        check_data=val,
        check_samples=None,
        verbose=verbose,
    )
    hyperparameters = ROWS[row][3] if row in ROWS else _row_definition(row, protocol, out)
    record = {
        "method": row,
        "status": "ok",
        "hyperparameters": hyperparameters,
        "protocol": protocol.name,
        "epochs": protocol.epochs,
        "init_epochs": protocol.init_stage_epochs(protocol.epochs)
        if ROWS.get(row, (0, None))[1]
        else 0,
        "batch_size": protocol.batch_size,
        "learning_rate": row_learning_rate(protocol, row),
        "seed": seed,
        "seconds": round(seconds, 1),
        "validation_accuracy": top1_accuracy(deployable, val),
        "parameters": deployable.count_params(),
        "macs": count_macs(deployable),
        "int8_bytes": report.size_bytes,
        "int8_check_samples": report.samples,
        "int8_check_keras_accuracy": report.keras_accuracy,
        "int8_litert_accuracy": report.litert_accuracy,
        "int8_micro_accuracy": report.micro_accuracy,
        "int8_arena_bytes": report.arena_bytes,
        "extra_accuracies": {name: top1_accuracy(m, val) for name, m in extra.items()},
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}",
        "command": command,
        "fingerprint": fingerprint,
        **provenance(),
    }
    write_json_atomically(record, record_path)
    for folder in os.listdir(out):
        if folder.startswith(f"{row}-") and folder.endswith("-backup"):
            shutil.rmtree(os.path.join(out, folder), ignore_errors=True)
    clock.remove()
    say(f"[bench] {row}: {record['validation_accuracy']:.2%} in {seconds:.0f} s", verbose)
    return record


def fit_teacher(protocol, train_raw, backup):
    """Trains the protocol's teacher on the labels (crop + flip, its epochs and
    rate, seed 0); ``backup`` is the `BackupAndRestore` that makes it resumable."""
    keras.utils.set_random_seed(SEED)
    train = data.batch_for_training(train_raw, protocol.batch_size, augment=True)
    rate, epochs = protocol.teacher_learning_rate, protocol.teacher_epochs
    optimizer = protocol.optimizer(rate, epochs, _steps_per_epoch(train_raw, protocol))
    return _fit_alone(protocol.build_teacher(), train, epochs, optimizer, backup)


def _teacher(source, protocol, teacher_path, train_raw, val, out):
    """The saved teacher, the shipped one (sample, cpu protocol), or one the
    runner trains once (resumably) and keeps as ``out/teacher.keras``."""
    if teacher_path is None and source == "sample" and protocol.name == "cpu":
        teacher_path = PRETRAINED_TEACHER
    info = {"source": teacher_path}
    if teacher_path is None:
        teacher_path = os.path.join(out, "teacher.keras")
        info = {"source": teacher_path, "trained by": "runner", "epochs": protocol.teacher_epochs}
        if not os.path.exists(teacher_path):
            with RowClock(os.path.join(out, "teacher-clock.json")) as clock:
                teacher = fit_teacher(protocol, train_raw, _backup(out, "teacher", "main"))
            save_model_atomically(teacher, teacher_path)
            info["seconds"] = round(clock.seconds, 1)
            clock.remove()
    teacher = keras.saving.load_model(teacher_path)
    record_path = os.path.join(out, "teacher.json")
    if not os.path.exists(record_path):
        record = {
            "method": "teacher",
            "architecture": teacher.name,
            "validation_accuracy": top1_accuracy(teacher, val),
            "parameters": teacher.count_params(),
            "macs": count_macs(teacher),
            **info,
            **provenance(),
        }
        write_json_atomically(record, record_path)
    return teacher, teacher_path


def run_bench(
    source,
    out,
    epochs=None,
    batch_size=None,
    teacher_path=None,
    rows=None,
    command="",
    protocol="cpu",
    data_dir=None,
    verbose="auto",
    seed=SEED,
):
    """Runs the requested rows (all of the protocol's by default) in order.

    Args:
        source: data as `keras_kd.data.load` takes it (``"sample"``, the
            shared CIFAR-10 file, ``"tfds:cifar100"``, ...).
        out: folder of the records, saved students and int8 files.
        epochs, batch_size: override the protocol's.
        teacher_path: a saved teacher; without it the runner trains one (the
            shipped ResNet-20 serves the sample under the ``cpu`` protocol).
        rows: row names (default: every row of the protocol); a row that
            needs another row's saved model (``ensemble_kd``: ``resnet20_alone``)
            gets it run first.
        command: the command line, kept in each record.
        protocol: a `keras_kd_cli.bench.protocols.PROTOCOLS` name or a `Protocol`.
        data_dir: TFDS data folder.
        verbose: 2: a line as each row starts (``[bench] row 3 of 16: kd``)
            and one per export check; 1: the same with progress bars for the
            export checks; ``"auto"``: 1 on a terminal, else (a log, or
            ``CI`` set) 2; 0: silent but for the training epochs.
        seed: the rows' seed (student initialization, data order). Seed 0's
            records are ``out/ROW.json``; another seed's go to
            ``out/seed-N/`` (same teacher), where the table finds them for
            its mean and standard deviation.

    Returns:
        The rows' records.
    """
    settings = protocol if isinstance(protocol, Protocol) else PROTOCOLS.get(protocol)
    if settings is None:
        raise ValueError(
            f"`protocol` must be one of {sorted(PROTOCOLS)} or a Protocol. "
            f"Received: protocol={protocol!r}"
        )
    overrides = {"epochs": epochs, "batch_size": batch_size}
    settings = dataclasses.replace(settings, **{k: v for k, v in overrides.items() if v})
    unknown = sorted(set(rows or []) - set(settings.rows))
    if unknown:
        raise ValueError(
            f"`rows` must be among {settings.rows} (protocol {settings.name!r}). "
            f"Received: unknown rows {unknown}"
        )
    if "ta_chain" in (rows or settings.rows) and settings.teacher not in ASSISTANT_DEPTHS:
        raise ValueError(
            f"Row 'ta_chain' knows an assistant for the teachers {sorted(ASSISTANT_DEPTHS)} "
            f"(keras_kd_cli.bench.rows.ASSISTANT_DEPTHS). Received: teacher={settings.teacher!r}"
        )
    ordered = []
    for row in rows or settings.rows:
        ordered += [r for r in [*PREREQUISITES.get(row, []), row] if r not in ordered]
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"`seed` must be an integer >= 0. Received: seed={seed!r}")
    os.makedirs(out, exist_ok=True)
    train_raw = data.load(source, "train", data_dir=data_dir).cache()
    val = data.load(source, settings.validation_split, data_dir=data_dir).batch(250).cache()
    teacher, teacher_path = _teacher(source, settings, teacher_path, train_raw, val, out)
    rows_out = seed_folder(out, seed)
    os.makedirs(rows_out, exist_ok=True)
    records = []
    for i, row in enumerate(ordered, 1):
        seed_note = f" (seed {seed})" if seed else ""
        say(f"[bench] row {i} of {len(ordered)}: {row}{seed_note}", verbose)
        definition = _row_definition(row, settings, rows_out)
        key = fingerprint(settings, definition, source, teacher_path, seed)
        records.append(
            run_row(row, teacher, train_raw, val, settings, rows_out, command, key, verbose, seed)
        )
    return records


def seed_folder(out, seed):
    """Where the rows of ``seed`` are recorded: ``out`` for seed 0, else
    ``out/seed-N``."""
    return out if seed == SEED else os.path.join(out, f"seed-{seed}")
