import argparse
import os
import pathlib
import subprocess
import sys

import keras
import pytest

from keras_kd import _cli_parser, _quiet, cli, demo
from keras_kd.export import QUANTIZATIONS
from keras_kd.export import cli as export_cli

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_demo_trains_and_saves_a_plain_student(tmp_path, capsys):
    rows = demo.run_demo(epochs=1, out=str(tmp_path), verbose=0)
    names = [row[0] for row in rows]
    assert names[1:] == ["student alone", "student distilled (KD)"]
    assert all(0.0 <= row[2] <= 1.0 for row in rows)
    saved = keras.saving.load_model(os.path.join(tmp_path, "student-kd.keras"))
    assert saved.count_params() == rows[2][1]
    printed = capsys.readouterr().out
    assert "student distilled (KD)" in printed and "val acc" in printed


def test_shipped_teacher_is_present_and_plain():
    assert os.path.exists(demo.PRETRAINED_TEACHER)
    teacher = keras.saving.load_model(demo.PRETRAINED_TEACHER)
    assert teacher.name == "resnet20" and teacher.output.shape == (None, 10)


@pytest.mark.parametrize("argv", [["demo", "--epochs", "0"], ["demo", "--epochs", "x"], ["nope"]])
def test_bad_cli_flags_exit_with_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert "usage: keras-kd" in capsys.readouterr().err


# The command line answers at once and speaks only for itself (issue 17).

COMMANDS = ("demo", "export", "bench")
# Lines TensorFlow, absl, oneDNN, CUDA and TFLite print on their own at start-up.
TENSORFLOW_LOGGING = (
    "oneDNN custom operations",
    "Unable to register cu",
    "This TensorFlow binary is optimized",
    "All log messages before absl::InitializeLog()",
    "cuda_blas",
    "computation placer",
    "cuda drivers",
    "cuInit",
    "XNNPACK",
    "I0000",
    "W0000",
    "E0000",
    "Saved artifact",
)


def _child_environment():
    """The test process's environment without the log level conftest.py sets."""
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


def _keras_kd(*argv, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "keras_kd.cli", *argv],
        cwd=ROOT,
        env=_child_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("argv", [[], *[[command] for command in COMMANDS]])
def test_every_help_exits_0_and_prints_nothing_on_stderr(argv):
    run = _keras_kd(*argv, "--help", timeout=60)
    assert run.returncode == 0
    assert run.stderr == ""
    assert run.stdout.startswith(f"usage: keras-kd{''.join(' ' + a for a in argv)}")
    assert "exit codes:" in run.stdout and "3  failure" in run.stdout


def test_help_and_usage_errors_import_neither_keras_nor_tensorflow():
    code = (
        "import sys\n"
        "from keras_kd import cli\n"
        "for argv in (['--help'], ['export', '--help'], ['export', 'x.keras'],\n"
        "             ['export', 'x.keras', 'o.tflite', '--target', 'mcu']):\n"
        "    try:\n"
        "        cli.main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.stdout.strip().splitlines()[-1] == "[]", run.stderr


def test_every_option_says_what_it_does_and_its_default():
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in commands.choices.items():
        for action in command._actions:
            where = f"keras-kd {name} {action.dest}"
            assert action.help and len(action.help) > 20, where
            if action.option_strings and action.dest not in ("help", "verbose"):
                assert "default" in action.help, where
        assert "exit codes:" in command.format_help()
    flash = next(a for a in commands.choices["export"]._actions if a.dest == "flash_kb")
    assert "KiB" in flash.help and "exits with 1" in flash.help


def test_quantize_choices_are_the_library_modes():
    assert _cli_parser.QUANTIZE_CHOICES == ("none", *[q for q in QUANTIZATIONS if q])


def test_a_real_export_on_the_sample_prints_no_tensorflow_logging(tmp_path):
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(
        inputs, keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(inputs))
    )
    model.save(tmp_path / "tiny.keras")
    out = tmp_path / "tiny.tflite"
    run = _keras_kd("export", str(tmp_path / "tiny.keras"), str(out), "--data", "sample")
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert run.stdout.startswith("file ") and "LiteRT accuracy" in run.stdout
    found = [
        line
        for line in (run.stdout + run.stderr).splitlines()
        for pattern in TENSORFLOW_LOGGING
        if pattern in line
    ]
    assert not found
    assert out.stat().st_size > 0


@pytest.mark.parametrize("verbose", [False, True])
def test_quiet_block_hides_native_stderr_unless_verbose(capfd, monkeypatch, verbose):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    with _quiet.tensorflow_quiet(verbose):
        os.write(2, b"native log line\n")
    assert ("native log line" in capfd.readouterr().err) == verbose
    os.write(2, b"after the block\n")
    assert "after the block" in capfd.readouterr().err


def test_a_failure_exits_3_with_the_reason_on_stderr(tmp_path, capsys, monkeypatch):
    inputs = keras.Input((4,))
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(tmp_path / "m.keras")

    def broken(*args, **kwargs):
        raise RuntimeError("the converter broke\nsecond line")

    monkeypatch.setattr(export_cli, "to_tflite", broken)
    code = cli.main(["export", str(tmp_path / "m.keras"), str(tmp_path / "m.tflite")])
    assert code == cli.EXIT_FAILURE == 3
    err = capsys.readouterr().err
    assert "keras-kd export: failed: RuntimeError: the converter broke" in err
    assert "--verbose" in err and "second line" not in err
    assert not (tmp_path / "m.tflite").exists()
