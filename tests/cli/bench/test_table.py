import json

import numpy as np
import pytest

from keras_kd.models import count_macs
from keras_kd_cli.bench.table import markdown_table, write_budget_chart
from tests.helpers import tiny_cnn


def _record(folder, method, accuracy, parameters, **fields):
    record = {
        "method": method,
        "status": "ok",
        "validation_accuracy": accuracy,
        "parameters": parameters,
        "int8_bytes": 1024,
        "int8_litert_accuracy": accuracy,
        "int8_micro_accuracy": accuracy,
        "int8_check_keras_accuracy": accuracy,
        "int8_check_samples": 10,
        "epochs": 1,
        "seconds": 1.0,
        **fields,
    }
    (folder / f"{method}.json").write_text(json.dumps(record))


def test_born_again_is_compared_with_its_own_architecture_alone(tmp_path):
    _record(tmp_path, "student_alone", 0.70, 100)
    _record(tmp_path, "kd", 0.75, 100)
    _record(tmp_path, "resnet20_alone", 0.78, 300)
    _record(tmp_path, "born_again", 0.80, 300)
    rows = _cells(tmp_path)
    assert rows["kd"][2] == "+5.00"
    assert rows["resnet20_alone"][2] == "+0.00"
    assert rows["born_again"][2] == "+2.00 (vs resnet20_alone)"


def test_the_best_row_is_the_most_accurate_distilled_student(tmp_path):
    _record(tmp_path, "student_alone_augmented", 0.90, 100)  # no teacher: never "best"
    _record(tmp_path, "resnet20_alone", 0.95, 300)  # the teacher's architecture
    _record(tmp_path, "born_again", 0.96, 300)
    _record(tmp_path, "kd", 0.75, 100)
    _record(tmp_path, "at", 0.74, 100)
    (tmp_path / "dml.json").write_text(
        json.dumps({"method": "dml", "status": "diverged", "epochs": 1})
    )
    rows = _cells(tmp_path)
    assert rows["**best**: kd"][1:3] == rows["kd"][1:3] == ["75.00% (1 run)", ""]
    _record(tmp_path, "at", 0.76, 100)
    assert "**best**: at" in _cells(tmp_path)
    for name in ("kd", "at"):
        (tmp_path / f"{name}.json").unlink()
    assert "**best**" not in markdown_table(tmp_path)


def test_rows_with_several_seeds_give_mean_and_sample_std_and_decide_the_best(tmp_path):
    _record(tmp_path, "student_alone", 0.70, 100)
    _record(tmp_path, "kd", 0.75, 100)
    _record(tmp_path, "at", 0.76, 100)  # one run: best on seed 0 alone, not on means
    for seed, (alone, kd) in {1: (0.72, 0.78), 2: (0.71, 0.81)}.items():
        (tmp_path / f"seed-{seed}").mkdir()
        _record(tmp_path / f"seed-{seed}", "student_alone", alone, 100)
        _record(tmp_path / f"seed-{seed}", "kd", kd, 100)
    (tmp_path / "seed-3").mkdir()
    (tmp_path / "seed-3" / "kd.json").write_text(
        json.dumps({"method": "kd", "status": "diverged", "epochs": 1})
    )
    rows = _cells(tmp_path)
    kd = np.array([0.75, 0.78, 0.81])
    alone = np.array([0.70, 0.72, 0.71])
    expected = f"{100 * kd.mean():.2f} ± {100 * kd.std(ddof=1):.2f}% (3 runs)"
    assert rows["kd"][1] == expected == "78.00 ± 3.00% (3 runs)"
    assert rows["kd"][2] == f"{100 * (kd.mean() - alone.mean()):+.2f}"
    assert rows["at"][1] == "76.00% (1 run)"
    assert rows["**best**: kd"][1] == expected


def _cells(folder):
    return {
        line.split(" | ")[0][2:]: line.split(" | ") for line in markdown_table(folder).splitlines()
    }


def test_macs_come_from_the_record_or_else_from_the_saved_model(tmp_path):
    _record(tmp_path, "student_alone", 0.70, 100, macs=12_501_632)
    _record(tmp_path, "kd", 0.75, 100)  # an older record: no `macs`
    _record(tmp_path, "at", 0.74, 100)  # ... and no saved model either
    model = tiny_cnn("kd", 4)
    model.save(tmp_path / "kd.keras")
    rows = _cells(tmp_path)
    assert rows["student_alone"][4] == "12.5M"
    assert rows["kd"][4] == f"{count_macs(model) / 1e6:.1f}M"  # "" without the fallback
    assert rows["at"][4] == "" and rows["at"][5] == "1.0"


def test_the_budget_chart_plots_each_recorded_row_against_its_int8_size_and_arena(tmp_path):
    pytest.importorskip("matplotlib")
    (tmp_path / "teacher.json").write_text(
        json.dumps({"method": "teacher", "validation_accuracy": 0.9})
    )
    _record(tmp_path, "student_alone", 0.70, 100, int8_arena_bytes=2048)
    _record(tmp_path, "kd", 0.75, 100, int8_bytes=3072, int8_arena_bytes=None)
    (tmp_path / "at.json").write_text(json.dumps({"method": "at", "status": "diverged"}))
    points = write_budget_chart(tmp_path, tmp_path / "budget.png")
    assert (tmp_path / "budget.png").stat().st_size > 0
    assert points["int8 file (KB)"] == [("student_alone", 1.0, 70.0), ("kd", 3.0, 75.0)]
    assert points["TFLite-Micro arena (KB)"] == [("student_alone", 2.0, 70.0)]
    assert points["teacher"] == 90.0 and points["student_alone"] == 70.0
