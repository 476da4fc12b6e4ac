import argparse
import os
import pathlib
import subprocess
import sys

import keras
import pytest

import keras_kd_cli as cli
from keras_kd.export import QUANTIZATIONS
from keras_kd_cli import demo
from keras_kd_cli import export as export_cli
from keras_kd_cli import parser as _cli_parser
from keras_kd_cli import quiet as _quiet

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_demo_trains_and_saves_a_plain_student(tmp_path, capsys):
    rows = demo.run_demo(epochs=1, out=str(tmp_path), verbose=0)
    names = [row[0] for row in rows]
    assert names[1:] == ["student alone", "student distilled (KD)"]
    assert all(0.0 <= row[2] <= 1.0 for row in rows)
    saved = keras.saving.load_model(os.path.join(tmp_path, "student-kd.keras"))
    assert saved.count_params() == rows[2][1]
    printed = capsys.readouterr().out
    assert "student distilled (KD)" in printed and "val acc" in printed
    assert "caching teacher outputs" not in printed  # verbose=0
    assert "Teacher logits of 5,000 training images cached" in printed
    gain = 100 * (rows[2][2] - rows[1][2])
    assert f"changed the student's accuracy by {gain:+.1f} points in this run" in printed


def test_demo_epochs_default_is_the_demo_module_default():
    demo_parser = _cli_parser.build_parser().parse_args(["demo"])
    assert demo_parser.epochs == demo.EPOCHS


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

COMMANDS = ("demo", "distill", "export", "bench")
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
        [sys.executable, "-m", "keras_kd_cli", *argv],
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
    teacher = demo.PRETRAINED_TEACHER
    code = (
        "import sys\n"
        "from keras_kd_cli import main\n"
        "for argv in (['--help'], ['export', '--help'], ['export', 'x.keras'],\n"
        "             ['export', 'no.keras', 'out.tflite'], ['distill', '--help'],\n"
        f"             ['distill', {teacher!r}, 'mlperf_tiny_resnet8', '--arg', 'nope=1'],\n"
        f"             ['distill', {teacher!r}, 'resnet9'],\n"
        f"             ['distill', {teacher!r}, 'resnet8', '--method', 'at']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.stdout.strip().splitlines()[-1] == "[]", run.stderr
    assert run.stderr.count("usage: keras-kd distill") == 3, run.stderr


def test_every_option_says_what_it_does_and_its_default():
    parser = _cli_parser.build_parser()
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
    # Not a terminal: one line per stage (verbose=2), then the report.
    assert run.stdout.startswith("TFLite conversion of ")
    assert " (float32)\nLiteRT check 1000/1000 - " in run.stdout
    assert "\nfile " in run.stdout and "LiteRT accuracy" in run.stdout
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
    assert code == _cli_parser.EXIT_FAILURE == 3
    err = capsys.readouterr().err
    assert "keras-kd export: failed: RuntimeError: the converter broke" in err
    assert "--verbose" in err and "second line" not in err
    assert not (tmp_path / "m.tflite").exists()


# The export command refuses what it cannot use, and writes nothing (issue 12 §7, issue 16).


def _saved_cnn(path, size):
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    keras.Model(inputs, keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x))).save(path)
    return path


def _usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: keras-kd export" in err and "Traceback" not in err
    return err.splitlines()[-1]


def test_export_says_a_truncated_keras_file_is_corrupt(tmp_path, capsys):
    content = _saved_cnn(tmp_path / "m.keras", 8).read_bytes()
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(content[: len(content) // 2])
    out = tmp_path / "m.tflite"
    error = _usage_error(["export", str(truncated), str(out)], capsys)
    assert "corrupt or not a Keras file" in error and "MODEL=" in error
    assert "File not found" not in error
    assert not out.exists()


def test_export_refuses_a_folder_as_out_before_converting(tmp_path, capsys, monkeypatch):
    model = _saved_cnn(tmp_path / "m.keras", 8)
    folder = tmp_path / "out"
    folder.mkdir()

    def never(*args, **kwargs):
        pytest.fail("the model was converted")

    monkeypatch.setattr(export_cli, "to_tflite", never)
    error = _usage_error(["export", str(model), str(folder)], capsys)
    assert "OUT is a folder" in error and f"Received: OUT={str(folder)!r}" in error
    assert list(folder.iterdir()) == []


def test_export_says_data_that_do_not_fit_the_model(tmp_path, capsys):
    model = _saved_cnn(tmp_path / "m8.keras", 8)  # the sample's images are 32x32x3
    out = tmp_path / "m.tflite"
    error = _usage_error(["export", str(model), str(out), "--data", "sample"], capsys)
    assert "--data inputs do not fit MODEL's input" in error
    assert "(32, 32, 3)" in error and "(8, 8, 3)" in error
    assert not out.exists()


def test_export_loads_in_safe_mode_and_says_why_it_refuses_a_lambda(tmp_path, capsys, monkeypatch):
    inputs = keras.Input((4,))
    unsafe = keras.Model(inputs, keras.layers.Lambda(lambda t: 2.0 * t)(inputs))
    unsafe.save(tmp_path / "unsafe.keras")
    calls = []
    load_model = keras.saving.load_model

    def recording_load_model(*args, **kwargs):
        calls.append(kwargs)
        return load_model(*args, **kwargs)

    monkeypatch.setattr(keras.saving, "load_model", recording_load_model)
    out = tmp_path / "unsafe.tflite"
    error = _usage_error(["export", str(tmp_path / "unsafe.keras"), str(out)], capsys)
    assert "cannot load MODEL" in error and "refused it in safe mode" in error
    assert "Lambda" in error
    assert calls and all(call.get("safe_mode", True) is True for call in calls)
    assert not out.exists()
