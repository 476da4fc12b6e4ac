"""Resumable runner of the segmentation and sequence benchmarks.

Recorded like the CIFAR-10 rows (`keras_kd_cli.bench.runner`): one JSON per
row in ``out`` with the method, hyperparameters, seed, seconds (over every
process that worked on it, `RowClock`), machine, command, git commit and
the held-out metric, under a fingerprint of the task, the row, the data and
the teacher; a recorded row is never rerun, an interrupted one resumes from
its last finished epoch. The teacher is trained first by the same runner and
recorded as ``teacher.json``. Segmentation students are also exported to
int8 and checked per pixel in LiteRT and TFLite-Micro (`to_tflite`); the
sequence students are GRUs, which int8 export refuses unless unrolled.
"""

import dataclasses
import hashlib
import json
import os
import platform
import shutil

import keras
import numpy as np
import tensorflow as tf

from keras_kd._io import save_model_atomically, write_json_atomically
from keras_kd._progress import say
from keras_kd.evaluation import bits_per_character, mean_iou
from keras_kd.export import to_tflite
from keras_kd.models import count_macs
from keras_kd_cli.bench import segmentation_data, sequence_data
from keras_kd_cli.bench.clock import RowClock
from keras_kd_cli.bench.dense_tasks import MODELS, ROWS, TASKS
from keras_kd_cli.bench.provenance import fingerprint, provenance

SEED = 0
EXPORT_CHECK_SAMPLES = 200  # held-out canvases checked in LiteRT and TFLite-Micro
CALIBRATION_SAMPLES = 200  # training canvases that calibrate int8


def _digest(*arrays):
    h = hashlib.sha256()
    for array in arrays:
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()[:16]


def load_task_data(task, source="sample", images=None):
    """``(train, heldout, description)`` of a task: ``(x, y)`` arrays and a
    dict naming the data (source, sizes, a digest of the arrays)."""
    if task.name == "segmentation":
        train, heldout = segmentation_data.segmentation_splits(
            source, task.train_count, task.heldout_count, images
        )
        described = {"source": source, "images_per_split": images}
    else:
        train, heldout, corpus = sequence_data.sequence_splits(task.length)
        train = tuple(a[: task.train_count] for a in train)
        heldout = tuple(a[: task.heldout_count] for a in heldout)
        described = {"source": "python standard-library docstrings", "corpus": corpus}
    described.update(train=len(train[0]), heldout=len(heldout[0]), digest=_digest(*train, *heldout))
    return train, heldout, described


def evaluate(task, model, heldout):
    """The task's held-out metric of ``model``: mean IoU or bits per character."""
    x, y = heldout
    logits = model.predict(x, batch_size=128, verbose=0)
    if task.name == "segmentation":
        return mean_iou(y, logits.argmax(-1), logits.shape[-1])
    return bits_per_character(logits, y, mask=y != sequence_data.PAD)


def _optimizer(task, epochs, steps):
    schedule = keras.optimizers.schedules.CosineDecay(task.learning_rate, epochs * steps)
    return keras.optimizers.Adam(schedule)


def _fit(task, model, builder, teacher, train, epochs, backup):
    """Trains ``model`` alone (``builder`` None) or in ``builder(model, teacher)``,
    resumably in ``backup``; returns the deployable model."""
    x, y = train
    steps = -(-len(x) // task.batch_size)
    fit = {"x": x, "y": y, "batch_size": task.batch_size, "verbose": 2}
    if builder is None:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer=_optimizer(task, epochs, steps), loss=loss)
        callbacks = [keras.callbacks.BackupAndRestore(backup)]
        model.fit(epochs=epochs, callbacks=callbacks, **fit)
        return model
    trainer = builder(model, teacher)
    trainer.compile()
    trainer.fit_stages(
        [("main", epochs)],
        optimizer=lambda stage, n: _optimizer(task, n, steps),
        backup_dir=backup,
        **fit,
    )
    return trainer.student


def architecture(model):
    """The model's layers as ``[class, parameters, output shape]`` (no
    session-dependent layer names), for fingerprints."""
    return [
        [type(layer).__name__, layer.count_params(), str(layer.output.shape)]
        for layer in model.layers
    ]


def _machine():
    return f"{platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}"


def _reuse(record_path, key, name, out):
    """The record at ``record_path`` if it exists under fingerprint ``key``."""
    if not os.path.exists(record_path):
        return None
    with open(record_path) as f:
        record = json.load(f)
    if record.get("fingerprint") != key:
        raise ValueError(
            f"`out` holds a record of {name!r} made under another task, row, data or teacher; "
            f"use a new folder. Received: out={out!r} with {os.path.basename(record_path)} "
            f"of fingerprint {record.get('fingerprint')!r}, expected {key!r}"
        )
    return record


def _export(model, train, heldout, out, row, verbose):
    n = EXPORT_CHECK_SAMPLES
    report = to_tflite(
        model,
        os.path.join(out, f"{row}-int8.tflite"),
        quantization="int8",
        representative_data=train[0][:CALIBRATION_SAMPLES].astype("float32"),
        check_data=(heldout[0][:n].astype("float32"), heldout[1][:n]),
        check_samples=n,
        min_agreement=None,  # record what the file does
        verbose=verbose,
    )
    keys = ("size_bytes", "samples", "keras_mean_iou", "litert_mean_iou", "micro_mean_iou")
    keys += ("litert_agreement", "micro_agreement", "arena_bytes", "micro_error")
    return {f"int8_{k}": getattr(report, k) for k in keys}


def _run(name, task, out, key, record, train_model, verbose):
    """Trains (``train_model()`` -> model) and records ``name`` unless recorded."""
    record_path = os.path.join(out, f"{name}.json")
    done = _reuse(record_path, key, name, out)
    if done is not None:
        say(f"[dense bench] {name}: recorded, not rerun", verbose)
        return done, os.path.join(out, f"{name}.keras")
    clock = RowClock(os.path.join(out, f"{name}-clock.json"))
    with clock:
        model = train_model()
    model_path = os.path.join(out, f"{name}.keras")
    save_model_atomically(model, model_path)
    record = {
        "method": name,
        "task": task.name,
        "status": "ok",
        **record,
        "seed": SEED,
        "seconds": round(clock.seconds, 1),
        task.metric: None,
        "parameters": model.count_params(),
        "machine": _machine(),
        "fingerprint": key,
        **provenance(),
    }
    record[task.metric] = evaluate(task, model, record.pop("heldout"))
    if task.name == "segmentation":
        record["macs"] = count_macs(model)
    if "export_data" in record:
        record.update(_export(model, *record.pop("export_data"), out, name, verbose))
    write_json_atomically(record, record_path)
    shutil.rmtree(os.path.join(out, f"{name}-backup"), ignore_errors=True)
    clock.remove()
    say(f"[dense bench] {name}: {task.metric} {record[task.metric]:.4f}", verbose)
    return record, model_path


def run_dense_bench(
    task,
    out,
    source="sample",
    rows=None,
    command="",
    epochs=None,
    teacher_epochs=None,
    train_count=None,
    heldout_count=None,
    images=None,
    export=True,
    verbose=2,
):
    """Trains the teacher, then the rows, recording each (resumable).

    Args:
        task: ``"segmentation"`` or ``"sequence"`` (`dense_tasks.TASKS`).
        out: folder of the records, models and int8 files.
        source: segmentation images: ``"sample"`` or the shared CIFAR-10 file.
        rows: row names (default: every row of the task).
        command: the command line, kept in each record.
        epochs, teacher_epochs: override the task's.
        train_count, heldout_count: canvases (segmentation), overriding the task's.
        images: read only this many images per split (segmentation; smoke runs).
        export: export segmentation models to int8 and check them per pixel.
        verbose: 0 silent, 2 a line per row.

    Returns:
        ``[teacher record, row records...]``.
    """
    if task not in TASKS:
        raise ValueError(f"`task` must be one of {sorted(TASKS)}. Received: task={task!r}")
    overrides = {
        "epochs": epochs,
        "teacher_epochs": teacher_epochs,
        "train_count": train_count,
        "heldout_count": heldout_count,
    }
    settings = dataclasses.replace(TASKS[task], **{k: v for k, v in overrides.items() if v})
    unknown = sorted(set(rows or []) - set(ROWS[task]))
    if unknown:
        raise ValueError(f"`rows` must be among {list(ROWS[task])}. Received: unknown {unknown}")
    os.makedirs(out, exist_ok=True)
    train, heldout, described = load_task_data(settings, source, images)
    build_teacher, build_student = MODELS[task]
    common = {"command": command, "batch_size": settings.batch_size, "heldout": heldout}
    if task == "segmentation" and export:
        common["export_data"] = (train, heldout)

    def teacher_model():
        keras.utils.set_random_seed(SEED)
        backup = os.path.join(out, "teacher-backup")
        return _fit(settings, build_teacher(), None, None, train, settings.teacher_epochs, backup)

    definition = {"row": "teacher", "architecture": architecture(build_teacher())}
    key = fingerprint(settings, definition, described, None)
    teacher_record, teacher_path = _run(
        "teacher",
        settings,
        out,
        key,
        {**common, "epochs": settings.teacher_epochs, "data": described},
        teacher_model,
        verbose,
    )
    teacher = keras.saving.load_model(teacher_path)
    records = [teacher_record]
    for row in rows or ROWS[task]:
        builder, hyperparameters = ROWS[task][row]

        def student_model(builder=builder, row=row):
            keras.utils.set_random_seed(SEED)
            backup = os.path.join(out, f"{row}-backup")
            student = build_student()
            return _fit(settings, student, builder, teacher, train, settings.epochs, backup)

        definition = {"row": row, "hyperparameters": hyperparameters}
        definition["architecture"] = architecture(build_student())
        key = fingerprint(settings, definition, described, teacher_path)
        extra = {"hyperparameters": hyperparameters, "epochs": settings.epochs, "data": described}
        records.append(
            _run(row, settings, out, key, {**common, **extra}, student_model, verbose)[0]
        )
    return records


def dense_table(records, metric):
    """A Markdown table of the records: the metric, int8 mean IoU in LiteRT and
    TFLite-Micro where measured, parameters and seconds."""
    columns = [(metric, metric), ("int8_litert_mean_iou", "int8 LiteRT mIoU")]
    columns.append(("int8_micro_mean_iou", "int8 TFLite-Micro mIoU"))
    columns = [(k, name) for k, name in columns if any(r.get(k) is not None for r in records)]
    lines = ["| row | " + " | ".join(name for _, name in columns) + " | parameters | seconds |"]
    lines.append("|---" * (len(columns) + 3) + "|")
    for r in records:
        cells = ["-" if r.get(k) is None else f"{r[k]:.4f}" for k, _ in columns]
        cells += [f"{r['parameters']:,}", f"{r['seconds']:.0f}"]
        lines.append(f"| {r['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
