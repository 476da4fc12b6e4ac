import json
import os
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_kd import data
from keras_kd.models import count_macs
from keras_kd_cli.bench import runner
from keras_kd_cli.bench.protocols import PROTOCOLS, Protocol
from keras_kd_cli.bench.provenance import file_digest, fingerprint
from keras_kd_cli.bench.rows import ROWS
from keras_kd_cli.bench.runner import assistant_chain, row_data, run_bench
from keras_kd_cli.bench.table import markdown_table
from keras_kd_cli.demo import PRETRAINED_TEACHER


@pytest.mark.slow  # a whole row: an epoch on the sample, int8 and TFLite-Micro
def test_a_row_is_recorded_once_and_never_rerun(tmp_path, capsys):
    out = str(tmp_path)
    # Time an earlier, interrupted process spent on the row counts in its seconds.
    (tmp_path / "student_alone-clock.json").write_text(json.dumps({"seconds": 1000.0}))
    first = run_bench("sample", out, 1, 256, PRETRAINED_TEACHER, rows=["student_alone"])[0]
    assert first["seconds"] > 1000.0
    assert not (tmp_path / "student_alone-clock.json").exists()
    printed = capsys.readouterr().out  # "auto" is 2 in a captured test
    assert "[bench] row 1 of 1: student_alone\n" in printed
    assert "LiteRT check 1000/1000" in printed and "TFLite-Micro check 1000/1000" in printed
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


def test_each_row_is_announced_unless_silent(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "_teacher", lambda *args: (None, PRETRAINED_TEACHER))
    monkeypatch.setattr(runner, "run_row", lambda row, *args: {"method": row})
    run_bench("sample", str(tmp_path), rows=["kd", "fitnet"], verbose=2)
    assert capsys.readouterr().out == "[bench] row 1 of 2: kd\n[bench] row 2 of 2: fitnet\n"
    run_bench("sample", str(tmp_path), rows=["kd", "fitnet"], verbose=0)
    assert capsys.readouterr().out == ""


def test_another_seed_records_in_its_own_folder_under_its_own_fingerprint(tmp_path, monkeypatch):
    calls = []

    def fake_run_row(row, teacher, train_raw, val, protocol, out, command, key, verbose, seed):
        calls.append((row, out, key, seed))
        return {"method": row}

    monkeypatch.setattr(runner, "_teacher", lambda *args: (None, PRETRAINED_TEACHER))
    monkeypatch.setattr(runner, "run_row", fake_run_row)
    for seed in (0, 2):
        run_bench("sample", str(tmp_path), rows=["kd"], verbose=0, seed=seed)
    (_, out0, key0, _), (_, out2, key2, seed2) = calls
    assert out0 == str(tmp_path) and out2 == str(tmp_path / "seed-2") and seed2 == 2
    assert key0 != key2
    # Seed 0 hashes as before seeds existed: recorded rows keep their fingerprints.
    cpu = runner.PROTOCOLS["cpu"]
    definition = runner._row_definition("kd", cpu, str(tmp_path))
    assert key0 == fingerprint(cpu, definition, "sample", PRETRAINED_TEACHER)
    with pytest.raises(ValueError, match=r"`seed` must be an integer >= 0. Received: seed=-1"):
        run_bench("sample", str(tmp_path / "new"), rows=["kd"], verbose=0, seed=-1)
    assert not (tmp_path / "new").exists()


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


def test_without_a_teacher_the_runner_trains_one_once_and_records_the_protocol(
    tmp_path, monkeypatch
):
    load = data.load
    monkeypatch.setattr(data, "load", lambda *args, **kwargs: load(*args, **kwargs).take(256))
    monkeypatch.setattr(runner, "to_tflite", _no_export)
    tiny = Protocol(
        name="tiny",
        teacher="resnet8",
        student="resnet8",
        num_classes=10,
        epochs=1,
        batch_size=128,
        learning_rate=0.05,
        augment=True,
        teacher_epochs=1,
    )
    out = str(tmp_path)
    record = run_bench("sample", out, rows=["kd"], protocol=tiny)[0]
    assert record["protocol"] == "tiny" and record["batch_size"] == 128
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


def test_rows_reading_only_the_teacher_logits_use_the_teacher_cache():
    from keras_kd import models
    from keras_kd_cli.bench.rows import ROWS
    from keras_kd_cli.bench.runner import _teacher_logits_only

    teacher = models.resnet8(input_shape=(8, 8, 3))

    def student():
        return models.resnet8(input_shape=(8, 8, 3))

    cached = {
        name
        for name in ("kd", "dkd", "dist", "at", "at_gradient", "dml", "fitnet", "function_matching")
        if _teacher_logits_only(ROWS[name][0](teacher, student))
    }
    # Feature rows need the teacher's taps; gradient AT its input gradient; DML has no
    # teacher; function matching shows the teacher a new view of every batch.
    assert cached == {"kd", "dkd", "dist"}


def _no_export(model, path, **kwargs):
    # The export is checked by the first test; here it would triple the time.
    fields = ["samples", "keras_accuracy", "litert_accuracy", "micro_accuracy"]
    return types.SimpleNamespace(size_bytes=1, arena_bytes=1, **dict.fromkeys(fields))


# Three models trained end to end (about 40 s of CPU); the ensemble and the
# chain themselves are tested in tests/distillers/test_ensemble_and_chain.py.
@pytest.mark.slow
def test_the_several_teachers_rows_run_after_their_prerequisite(tmp_path, monkeypatch):
    load = data.load
    monkeypatch.setattr(data, "load", lambda *args, **kwargs: load(*args, **kwargs).take(32))
    monkeypatch.setattr(runner, "to_tflite", _no_export)
    out = str(tmp_path)
    records = run_bench("sample", out, 1, 16, PRETRAINED_TEACHER, rows=["ensemble_kd", "ta_chain"])
    assert [r["method"] for r in records] == ["resnet20_alone", "ensemble_kd", "ta_chain"]
    assert all(r["status"] == "ok" for r in records)
    ensemble, chain = records[1], records[2]
    digest = file_digest(os.path.join(out, "resnet20_alone.keras"))
    assert ensemble["hyperparameters"]["resnet20_alone.keras"] == digest
    assert set(ensemble["extra_accuracies"]) == {"teacher_ensemble"}
    assert set(chain["extra_accuracies"]) == {"assistant"}
    assistant = keras.saving.load_model(os.path.join(out, "ta_chain", "generation1.keras"))
    assert assistant.name == "resnet14" and chain["hyperparameters"]["assistant_depth"] == 14
    assert os.path.exists(os.path.join(out, "ta_chain", "generation2.keras"))
    student = keras.saving.load_model(os.path.join(out, "ta_chain.keras"))
    assert chain["macs"] == count_macs(student) == 12_501_632
    with open(os.path.join(out, "teacher.json")) as f:
        assert json.load(f)["macs"] == count_macs(keras.saving.load_model(PRETRAINED_TEACHER))


def test_the_assistant_chain_builds_on_the_cifar100_architectures(tmp_path):
    image = keras.Input((32, 32, 3))
    logits = keras.layers.Dense(100)(keras.layers.GlobalAveragePooling2D()(image))
    chain = assistant_chain(keras.Model(image, logits), PROTOCOLS["cifar100"], tmp_path)
    assistant, student = chain.builders[0](), chain.builders[1]()
    assert (assistant.name, student.name) == ("resnet38", "resnet20")
    assert assistant.output.shape[-1] == 100 and assistant.losses  # the protocol's L2
    assert "ensemble_kd" not in PROTOCOLS["cifar100"].rows


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


@pytest.mark.parametrize("row", ["one", "ab"])
def test_every_kind_of_trainer_goes_through_the_rows_fit(row, tmp_path):
    # ONE, like DML and BYOT, has no stages (the runner once called `set_stage`
    # on them and crashed at the row); AB has an init stage.
    from keras_kd import models
    from keras_kd_cli.bench.runner import _fit_trainer

    def small():
        return models.resnet8(input_shape=(8, 8, 3))

    tiny = Protocol(
        name="tiny", teacher="resnet8", student="resnet8", num_classes=10, epochs=1,
        batch_size=4, learning_rate=0.05, augment=False, teacher_epochs=1,
    )  # fmt: skip
    builder, init_stage = ROWS[row][:2]
    staged = {} if init_stage is None else {"init_epochs": tiny.init_stage_epochs(1)}
    trainer = builder(small(), small, **staged)
    rng = np.random.default_rng(0)
    images, labels = rng.uniform(0, 255, (8, 8, 8, 3)).astype("float32"), np.arange(8) % 10
    train = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    before = [w.copy() for w in trainer.deployable.get_weights()]
    deployable = _fit_trainer(trainer, row, init_stage, train, tiny, 2, str(tmp_path))
    after = deployable.get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert not [n for n in os.listdir(tmp_path) if n.endswith("-init.weights.h5")]


def test_a_row_with_its_authors_learning_rate_records_it():
    cpu, cifar100 = PROTOCOLS["cpu"], PROTOCOLS["cifar100"]
    assert runner.row_learning_rate(cpu, "mlkd") == 0.05
    assert runner.row_learning_rate(cifar100, "mlkd") == 0.025
    assert runner.row_learning_rate(cpu, "kd") == cpu.learning_rate
    optimizer = runner._row_optimizer(cpu, 10, "mlkd")
    assert float(optimizer.learning_rate) == pytest.approx(0.05)
