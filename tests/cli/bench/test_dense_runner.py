"""The segmentation and sequence benchmark runner at tiny sizes: it trains and
records the teacher and the rows (with int8 mean IoU for segmentation), never
reruns a recorded row, and refuses records made under other settings."""

import json

import numpy as np
import pytest

from keras_kd_cli.bench import dense_runner
from keras_kd_cli.bench.dense_runner import dense_table, run_dense_bench

TINY_SEGMENTATION = {
    "epochs": 1,
    "teacher_epochs": 1,
    "train_count": 8,
    "heldout_count": 4,
    "images": 30,
    "verbose": 0,
}
FIELDS = {"method", "hyperparameters", "seed", "seconds", "machine", "command", "git_commit"}


@pytest.mark.slow  # trains the dense rows; the sequence rows' test stays in the default run
def test_segmentation_rows_are_recorded_and_not_rerun(tmp_path, monkeypatch):
    records = run_dense_bench(
        "segmentation", str(tmp_path), rows=["cwd"], command="test", **TINY_SEGMENTATION
    )
    assert [r["method"] for r in records] == ["teacher", "cwd"]
    with open(tmp_path / "cwd.json") as f:
        cwd = json.load(f)
    assert FIELDS <= set(cwd) and cwd["hyperparameters"]["cwd"] == 3 and cwd["seed"] == 0
    assert 0 <= cwd["mean_iou"] <= 1 and cwd["data"]["heldout"] == 4
    assert cwd["int8_samples"] == 4 and cwd["int8_micro_error"] is None
    for where in ("keras", "litert", "micro"):
        assert 0 <= cwd[f"int8_{where}_mean_iou"] <= 1
    assert cwd["int8_keras_mean_iou"] == pytest.approx(cwd["mean_iou"])
    assert not list(tmp_path.glob("*-backup")) and not list(tmp_path.glob("*-clock.json"))

    def refuse(*args, **kwargs):
        raise AssertionError("a recorded row was trained again")

    monkeypatch.setattr(dense_runner, "_fit", refuse)
    again = run_dense_bench(
        "segmentation", str(tmp_path), rows=["cwd"], command="test", **TINY_SEGMENTATION
    )
    assert again == records
    table = dense_table(records, "mean_iou")
    assert "| cwd |" in table and "int8 TFLite-Micro mIoU" in table


def test_other_settings_do_not_reuse_a_record(tmp_path):
    tiny = {**TINY_SEGMENTATION, "train_count": 4}
    run_dense_bench("segmentation", str(tmp_path), rows=["student_alone"], export=False, **tiny)
    with pytest.raises(ValueError, match="teacher.json of fingerprint"):
        run_dense_bench(
            "segmentation",
            str(tmp_path),
            rows=["student_alone"],
            export=False,
            **{**tiny, "teacher_epochs": 2},
        )


def test_sequence_rows_record_bits_per_character(tmp_path):
    records = run_dense_bench(
        "sequence",
        str(tmp_path),
        rows=["jsd"],
        epochs=1,
        teacher_epochs=1,
        train_count=16,
        heldout_count=8,
        verbose=0,
    )
    teacher, jsd = records
    assert jsd["hyperparameters"]["beta"] == 0.5 and jsd["data"]["train"] == 16
    assert jsd["data"]["corpus"] == teacher["data"]["corpus"]
    for record in records:
        assert 0 < record["bits_per_character"] < 2 * np.log2(98)
    assert "int8" not in dense_table(records, "bits_per_character")


def test_refusals(tmp_path):
    with pytest.raises(ValueError, match="Received: task='detection'"):
        run_dense_bench("detection", str(tmp_path))
    with pytest.raises(ValueError, match=r"Received: unknown \['dkd'\]"):
        run_dense_bench("sequence", str(tmp_path), rows=["dkd"])
