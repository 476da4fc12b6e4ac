import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_kd.bench.protocols import PROTOCOLS, Protocol
from keras_kd.bench.rows import ROWS
from keras_kd.bench.runner import row_data, run_bench
from keras_kd.bench.table import markdown_table
from keras_kd.demo import PRETRAINED_TEACHER


def test_a_row_is_recorded_once_and_never_rerun(tmp_path):
    out = str(tmp_path)
    first = run_bench("sample", out, 1, 256, PRETRAINED_TEACHER, rows=["student_alone"])[0]
    assert first["status"] == "ok" and 0.0 <= first["validation_accuracy"] <= 1.0
    assert first["parameters"] == 78_714 and first["int8_bytes"] > 0
    assert first["int8_check_samples"] == 1000  # the whole sample validation split
    assert first["int8_check_keras_accuracy"] == pytest.approx(first["validation_accuracy"])
    saved = keras.saving.load_model(os.path.join(out, "student_alone.keras"))
    assert saved.count_params() == 78_714
    assert os.path.exists(os.path.join(out, "student_alone-int8.tflite"))
    assert not [name for name in os.listdir(out) if name.endswith("-backup")]
    mtime = os.path.getmtime(os.path.join(out, "student_alone.json"))
    again = run_bench("sample", out, 1, 256, PRETRAINED_TEACHER, rows=["student_alone"])[0]
    assert again == first
    assert os.path.getmtime(os.path.join(out, "student_alone.json")) == mtime

    with open(os.path.join(out, "fsp.json"), "w") as f:
        json.dump({"method": "fsp", "status": "diverged", "epochs": 1, "error": "nan"}, f)
    table = markdown_table(out)
    assert "| student_alone |" in table and "| kd | not run yet |" in table
    assert "| fsp | diverged" in table and "| teacher (resnet20) |" in table
    assert first["git_commit"] and first["date"] and first["versions"]["keras"]
    assert f"({first['git_commit']}; keras_kd 0.2.0" in table and "student_alone" in table


def test_a_record_made_under_another_protocol_is_never_reused(tmp_path):
    # A record of an older protocol (or keras_kd 0.1, which wrote no fingerprint).
    record = {"method": "student_alone", "status": "ok", "validation_accuracy": 0.5}
    (tmp_path / "student_alone.json").write_text(json.dumps(record))
    before = (tmp_path / "student_alone.json").read_bytes()
    with pytest.raises(ValueError, match="another protocol.*Received: out=.*student_alone.json"):
        run_bench("sample", str(tmp_path), 1, 256, PRETRAINED_TEACHER, rows=["student_alone"])
    assert (tmp_path / "student_alone.json").read_bytes() == before
    assert not (tmp_path / "student_alone.keras").exists()


def test_unknown_rows_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match=r"Received: unknown rows \['magic'\]"):
        run_bench("sample", str(tmp_path / "out"), 1, 64, PRETRAINED_TEACHER, rows=["magic"])
    assert not (tmp_path / "out").exists()


def test_without_a_teacher_the_runner_trains_one_once_and_records_the_protocol(tmp_path):
    tiny = Protocol(
        name="tiny",
        teacher="resnet8",
        student="resnet8",
        num_classes=10,
        epochs=1,
        batch_size=500,
        learning_rate=0.05,
        augment=True,
        teacher_epochs=1,
    )
    out = str(tmp_path)
    record = run_bench("sample", out, rows=["kd"], protocol=tiny)[0]
    assert record["protocol"] == "tiny" and record["batch_size"] == 500
    with open(os.path.join(out, "teacher.json")) as f:
        teacher = json.load(f)
    assert teacher["trained by"] == "runner" and teacher["epochs"] == 1
    assert teacher["architecture"] == "resnet8"
    mtime = os.path.getmtime(os.path.join(out, "teacher.keras"))
    assert run_bench("sample", out, rows=["kd"], protocol=tiny)[0] == record
    assert os.path.getmtime(os.path.join(out, "teacher.keras")) == mtime


def test_a_protocol_excludes_its_rows_and_names_are_checked():
    with pytest.raises(ValueError, match=r"protocol 'cifar100'.*unknown rows \['born_again'\]"):
        run_bench("sample", "unused", rows=["born_again"], protocol="cifar100")
    with pytest.raises(ValueError, match=r"Received: protocol='imagenet'"):
        run_bench("sample", "unused", protocol="imagenet")


def test_the_crd_row_gets_sample_indices_and_the_training_set_size():
    cpu = PROTOCOLS["cpu"]
    images, labels = np.zeros((300, 32, 32, 3), "float32"), np.arange(300) % 10
    train_raw = tf.data.Dataset.from_tensor_slices((images, labels))
    train, kwargs = row_data("crd", train_raw, cpu)
    assert kwargs == {"num_samples": 300}
    x, y = next(iter(train))
    assert x["x"].shape == (128, 32, 32, 3) and y.shape == (128,)
    assert len(set(x["sample_index"].numpy())) == 128 and x["sample_index"].numpy().max() < 300
    crd = ROWS["crd"][0](cpu.build_teacher(), cpu.build_student, num_samples=5000)
    assert (crd.num_samples, crd.num_negatives, crd.loss_weights) == (
        5000,
        4096,
        {"task": 1.0, "crd": 0.8},
    )
    assert row_data("kd", train_raw, cpu)[1] == {}
