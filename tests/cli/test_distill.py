"""`keras-kd distill`: argument checks, a resumed run, and an export (tiny runs on the sample)."""

import inspect
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_kd import distillers, models
from keras_kd.distillers._trainer import TermTrainer
from keras_kd.pretrained import DEFAULT_TEACHER
from keras_kd_cli import distill, main
from keras_kd_cli import parser as cli_parser
from keras_kd_cli.methods import (
    FROM_DISTILLER,
    METHODS,
    NO_DEFAULT,
    SET_BY_COMMAND,
    Argument,
    method_arguments,
    method_table,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEACHER = str(ROOT / "keras_kd" / "pretrained" / f"{DEFAULT_TEACHER}.keras")
STUDENT = "mlperf_tiny_resnet8"
TINY = ["--limit", "128", "--batch-size", "64"]


def _kind_of_default(default):
    if default is inspect.Parameter.empty or default is None:
        return None  # layers and layer weights: lists, checked by name below
    return {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a word",
    }[type(default)]


# Arguments whose default (None or none) does not say their type.
_KINDS_OF_NONE_DEFAULTS = {
    "student_layers": "layer names separated by commas",
    "teacher_layers": "layer names separated by commas",
    "layer_weights": "numbers separated by commas",
    "scale_reference": "numbers separated by commas, or none",
    "crop_padding": "an integer",
    "flip": "true or false",
}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_method_table_is_derived_from_the_distiller_signatures(method):
    """What the source reading (no import) finds is what `inspect.signature` says."""
    cls = getattr(distillers, METHODS[method])
    signature = inspect.signature(cls.__init__).parameters
    not_own = ("self", "student", "teacher", "kwargs", *SET_BY_COMMAND.get(method, ()))
    own = {k: p for k, p in signature.items() if k not in not_own}
    shared = inspect.signature(distillers.Distiller.__init__).parameters
    expected = {**own, **{k: shared[k] for k in FROM_DISTILLER if k not in own}}
    derived = method_table()[method]
    assert set(derived) == set(expected)
    for name, argument in derived.items():
        default = expected[name].default
        assert argument.default == (NO_DEFAULT if default is inspect.Parameter.empty else default)
        kind = _KINDS_OF_NONE_DEFAULTS.get(name) or _kind_of_default(default)
        assert argument.kind == kind, name


def _library(tmp_path, fitnet_signature):
    """A copy of keras_kd's distillers source with FitNet's ``__init__`` arguments replaced."""
    library = tmp_path / "keras_kd"
    shutil.copytree(ROOT / "keras_kd" / "distillers", library / "distillers")
    path = library / "distillers" / "fitnet.py"
    source = path.read_text()
    start = source.index("    def __init__(", source.index("class FitNet("))
    end = source.index("):", start)
    path.write_text(source[:start] + f"    def __init__(self, {fitnet_signature}" + source[end:])
    return str(library)


def test_method_table_follows_a_changed_signature(tmp_path):
    library = _library(tmp_path, "student, teacher, student_layers, hint_scale=2, **kwargs")
    fitnet = method_table(library)["fitnet"]
    assert list(fitnet) == ["student_layers", "hint_scale", "logit_standardization"]
    assert fitnet["hint_scale"] == Argument("hint_scale", "an integer", 2)


def test_method_table_refuses_an_argument_it_cannot_type(tmp_path):
    library = _library(tmp_path, "student, teacher, student_layers, mystery=None, **kwargs")
    with pytest.raises(RuntimeError, match="FitNet's argument 'mystery'.*UNTYPED_DEFAULTS"):
        method_table(library)


def test_student_models_are_the_model_zoo():
    assert cli_parser.STUDENT_MODELS == tuple(models.BUILDERS)


def test_method_arguments_are_typed_and_layers_default_to_each_other():
    parsed = method_arguments(
        "fitnet",
        ["feature_weight=100", "student_layers=stage2, stage3", "regressor_kernel_size=3"],
        epochs=10,
    )
    assert parsed == {
        "feature_weight": 100.0,
        "student_layers": ["stage2", "stage3"],
        "teacher_layers": ["stage2", "stage3"],
        "regressor_kernel_size": 3,
    }
    assert method_arguments("kd", ["logit_standardization=true"], 10) == {
        "logit_standardization": True
    }
    assert method_arguments("mlkd", ["scale_reference=none"], 10) == {"scale_reference": None}
    assert method_arguments("mlkd", ["scale_reference=128,10"], 10) == {
        "scale_reference": [128.0, 10.0]
    }
    ab = method_arguments("ab", ["teacher_layers=a,b", "layer_weights=1,0.5"], epochs=24)
    assert ab["student_layers"] == ["a", "b"] and ab["layer_weights"] == [1.0, 0.5]
    assert ab["init_epochs"] == 3  # max(1, 24 // 8)
    ft = method_arguments("ft", ["student_layers=stage3", "init_epochs=0"], epochs=24)
    assert ft["init_epochs"] == 0


def _usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: keras-kd distill" in err and "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "options, expected",
    [
        (["--arg", "alpha=1"], ["has no argument 'alpha'", "Accepted: task_weight, kd_weight"]),
        (["--arg", "temperature"], ["NAME=VALUE", "Received: --arg temperature"]),
        (["--arg", "temperature=hot"], ["temperature takes a number", "temperature=hot"]),
        (["--arg", "kd_weight=1", "--arg", "kd_weight=2"], ["kd_weight is given twice"]),
        (["--method", "nst"], ["--method nst taps layers", "student_layers=NAME"]),
        (["--method", "ab", "--arg", "layer_weights=1,x"], ["layer_weights takes numbers"]),
        (["--method", "rkd", "--arg", "p=2"], ["RKD) has no argument 'p'", "angle_weight"]),
        (["--method", "mixup"], ["invalid choice: 'mixup'"]),
        (["--epochs", "0"], ["--epochs", "must be an integer >= 1"]),
        (["--learning-rate", "-1"], ["--learning-rate", "must be a number > 0"]),
        (["--export", "int4"], ["invalid choice: 'int4'"]),
        (["--data", "no-such-folder"], ["--data must be", "no such path"]),
    ],
)
def test_wrong_arguments_are_usage_errors_naming_them(options, expected, capsys, tmp_path):
    out = tmp_path / "out"
    error = _usage_error(["distill", TEACHER, STUDENT, "--out", str(out), *options], capsys)
    for fragment in expected:
        assert fragment in error
    assert not out.exists()


def test_wrong_models_are_usage_errors(capsys, tmp_path):
    error = _usage_error(["distill", str(tmp_path / "t.keras"), STUDENT], capsys)
    assert "cannot load TEACHER: no such file" in error
    error = _usage_error(["distill", TEACHER, "resnet9"], capsys)
    assert "STUDENT must be a .keras file or a keras_kd.models name" in error
    assert "Received: STUDENT='resnet9'" in error
    (tmp_path / "s.keras").write_text("not a zip")
    error = _usage_error(["distill", TEACHER, str(tmp_path / "s.keras")], capsys)
    assert "cannot load STUDENT: it is corrupt or not a Keras file" in error


def test_a_layer_the_student_lacks_is_a_usage_error_before_training(capsys, tmp_path):
    out = tmp_path / "out"
    argv = ["distill", TEACHER, STUDENT, "--method", "at", "--arg", "student_layers=nope"]
    error = _usage_error([*argv, "--out", str(out), *TINY], capsys)
    assert "--method at (AttentionTransfer)" in error and "nope" in error
    assert not out.exists()


class _Interrupt(keras.callbacks.Callback):
    """Stops the run at the end of the main stage's first epoch, after its backup."""

    def on_epoch_end(self, epoch, logs=None):
        raise RuntimeError("simulated interruption")


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    argv = ["distill", TEACHER, STUDENT, "--method", "ft", "--arg", "student_layers=stage3"]
    argv += ["--epochs", "2", "--out", str(out), *TINY]
    fit_one_stage = TermTrainer.fit_one_stage

    def interrupted_in_main(self, *args, **kwargs):
        if self.stage == "main":  # after the stage's BackupAndRestore, which saves first
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), _Interrupt()]
        return fit_one_stage(self, *args, **kwargs)

    monkeypatch.setattr(TermTrainer, "fit_one_stage", interrupted_in_main)
    assert main(argv) == cli_parser.EXIT_FAILURE
    first = capsys.readouterr()
    assert "simulated interruption" in first.err
    assert "Init stage of FactorTransfer: 1 epoch(s)" in first.out
    assert not (out / "student.keras").exists()
    saved = json.loads((out / "backup" / "settings.json").read_text())
    assert saved["method"] == "ft" and saved["method_arguments"]["init_epochs"] == 1

    # Other options would not resume this run: refused, naming what changed.
    error = _usage_error([*argv[:-6], "--epochs", "3", "--out", str(out), *TINY], capsys)
    assert "holds an interrupted run made with other options" in error
    assert "epochs: 2 then, 3 now" in error

    monkeypatch.setattr(TermTrainer, "fit_one_stage", fit_one_stage)
    assert main(argv) == cli_parser.EXIT_OK
    second = capsys.readouterr().out
    assert "Resuming the interrupted run" in second
    assert "Init stage" not in second  # done before the interruption
    assert "Epoch 2/2" in second and "Epoch 1/2" not in second
    student = keras.saving.load_model(out / "student.keras", safe_mode=True)
    assert student.name == STUDENT
    assert sorted(os.listdir(out)) == ["student.keras"]  # the backup is gone


def _environment():
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the command must hide TensorFlow's logging itself
    return env


@pytest.mark.slow  # the demo test covers the command's training in the default run
def test_distill_and_export_int8_end_to_end(tmp_path):
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "keras_kd_cli", "distill", TEACHER, STUDENT]
    argv += ["--method", "fitnet", "--arg", "feature_weight=100", "--arg", "student_layers=stage2"]
    argv += ["--epochs", "1", "--export", "int8", "--out", str(out), *TINY]
    run = subprocess.run(
        argv, cwd=ROOT, env=_environment(), capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert "Distilling mlperf_tiny_resnet8 from resnet20 with FitNet" in run.stdout
    assert "hint_loss" in run.stdout
    assert "student mlperf_tiny_resnet8" in run.stdout and "val acc" in run.stdout
    for pattern in (r"quantization\s+int8", "TFLite-Micro arena", "LiteRT accuracy"):
        assert re.search(pattern, run.stdout)  # the report of `keras-kd export`
    assert (out / "student-int8.tflite").stat().st_size > 0
    assert sorted(os.listdir(out)) == ["student-int8.tflite", "student.keras"]


@pytest.mark.parametrize(
    "method,arguments,logged",
    [
        ("crd", ["student_layers=pool", "num_negatives=64", "feat_dim=16"], "crd_loss"),
        pytest.param("function_matching", ["crop_padding=2"], "kd_loss", marks=pytest.mark.slow),
        pytest.param("mlkd", ["temperature=2"], "mlkd_batch_loss", marks=pytest.mark.slow),
    ],
)
def test_methods_with_their_own_data_needs_train_from_the_command(
    method, arguments, logged, tmp_path, capsys
):
    out = tmp_path / "run"
    argv = ["distill", TEACHER, STUDENT, "--method", method]
    for argument in arguments:
        argv += ["--arg", argument]
    argv += ["--epochs", "1", "--out", str(out), *TINY]
    assert main(argv) == cli_parser.EXIT_OK
    printed = capsys.readouterr().out
    assert logged in printed
    student = keras.saving.load_model(out / "student.keras", safe_mode=True)
    keras.utils.set_random_seed(distill.SEED)  # the command's student before training
    untrained = models.BUILDERS[STUDENT](num_classes=10, input_shape=(32, 32, 3))
    changed = [
        not np.array_equal(a, b)
        for a, b in zip(student.get_weights(), untrained.get_weights(), strict=True)
    ]
    assert any(changed)
