"""`keras-kd distill` and `export` beyond image classification (issue 28): a
segmenter and a masked sequence model from .npz files, with the dense and
sequence methods, exported with per-position checks; a two-head detector
exported with `--logits-output`."""

import os

import keras
import numpy as np
import pytest

from keras_kd_cli import main
from keras_kd_cli import parser as cli_parser
from tests.helpers import (
    assert_same,
    detection_data,
    detector,
    segmentation_data,
    segmenter,
    sequence_data,
    snapshot_without_random_state,
    tagger,
)

CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
SLOW = pytest.mark.slow  # the default run keeps one method per task


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Teacher and student files and .npz data of a segmentation and a sequence task."""
    folder = tmp_path_factory.mktemp("tasks")
    keras.utils.set_random_seed(0)
    x, y = segmentation_data(64)
    teacher = segmenter("seg_teacher", 8)
    teacher.compile("adam", CE)
    teacher.fit(x, y, epochs=3, verbose=0)
    teacher.save(folder / "seg_teacher.keras")
    segmenter("seg_student", 4).save(folder / "seg_student.keras")
    np.savez(folder / "seg.npz", x=x, y=y)
    tokens, following = sequence_data(64)
    tagger("seq_teacher", 8).save(folder / "seq_teacher.keras")
    tagger("seq_student", 4).save(folder / "seq_student.keras")
    weights = (tokens > 0).astype("float32")
    np.savez(folder / "seq.npz", x=tokens, y=following, sample_weight=weights)
    return folder


@pytest.mark.parametrize(
    "task,method,arguments,logged",
    [
        ("seg", "cwd", [], "cwd_loss"),
        pytest.param("seg", "pkd", ["--arg", "student_layers=neck"], "pkd_loss", marks=SLOW),
        ("seq", "gkd", ["--arg", "beta=0.9"], "gkd_loss"),
        pytest.param("seq", "kd", [], "kd_loss", marks=SLOW),
    ],
)
def test_a_task_of_its_own_distills_from_an_npz_file(
    files, task, method, arguments, logged, tmp_path, capsys
):
    out = tmp_path / "run"
    teacher_file = files / f"{task}_teacher.keras"
    teacher = keras.saving.load_model(teacher_file)
    argv = ["distill", str(teacher_file), str(files / f"{task}_student.keras")]
    argv += ["--data", str(files / f"{task}.npz"), "--method", method, *arguments]
    argv += ["--epochs", "1", "--batch-size", "16", "--out", str(out)]
    assert main(argv) == cli_parser.EXIT_OK
    printed = capsys.readouterr().out
    assert f"student {task}_student" in printed and "val acc" in printed
    assert logged in printed  # the method's term, in the epoch's line
    student = keras.saving.load_model(out / "student.keras")
    assert student.name == f"{task}_student"
    saved = keras.saving.load_model(teacher_file)
    assert_same(snapshot_without_random_state(teacher), snapshot_without_random_state(saved))
    assert sorted(os.listdir(out)) == ["student.keras"]


@pytest.mark.slow
def test_a_segmenter_goes_to_int8_with_mean_iou_in_the_report(files, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["distill", str(files / "seg_teacher.keras"), str(files / "seg_student.keras")]
    argv += ["--data", str(files / "seg.npz"), "--method", "kd", "--epochs", "1"]
    argv += ["--batch-size", "16", "--export", "int8", "--out", str(out)]
    assert main(argv) == cli_parser.EXIT_OK
    printed = capsys.readouterr().out
    assert "kd_loss" in printed
    for row in ("Keras mean IoU", "LiteRT mean IoU", "LiteRT top-1 agreement"):
        assert row in printed
    assert (out / "student-int8.tflite").stat().st_size > 0


def test_a_model_zoo_student_for_logits_with_positions_is_a_usage_error(files, capsys, tmp_path):
    argv = ["distill", str(files / "seg_teacher.keras"), "mlperf_tiny_resnet8"]
    argv += ["--data", str(files / "seg.npz"), "--out", str(tmp_path / "unused")]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == cli_parser.EXIT_USAGE
    error = capsys.readouterr().err
    assert "builds an image classifier" in error and "(None, 8, 8, 3)" in error
    assert "Received: STUDENT='mlperf_tiny_resnet8'" in error
    assert not (tmp_path / "unused").exists()


def test_export_names_the_class_head_of_a_two_head_model(tmp_path, capsys):
    keras.utils.set_random_seed(0)
    detector("two_heads", 8, "list").save(tmp_path / "det.keras")
    x, classes, _ = detection_data(40)
    np.savez(tmp_path / "det.npz", x=x, y=classes)
    argv = ["export", str(tmp_path / "det.keras"), str(tmp_path / "det.tflite")]
    argv += ["--data", str(tmp_path / "det.npz"), "--quantize", "int8"]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == cli_parser.EXIT_USAGE
    assert "--logits-output:" in capsys.readouterr().err
    assert not (tmp_path / "det.tflite").exists()
    assert main([*argv, "--logits-output", "cls"]) == cli_parser.EXIT_OK
    printed = capsys.readouterr().out
    assert "LiteRT max |diff| of 'box'" in printed and "TFLite-Micro mean IoU" in printed


def test_int8_for_a_recurrent_student_is_a_usage_error_before_training(files, capsys, tmp_path):
    out = tmp_path / "run"
    argv = ["distill", str(files / "seq_teacher.keras"), str(files / "seq_student.keras")]
    argv += ["--data", str(files / "seq.npz"), "--export", "int8", "--out", str(out)]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == cli_parser.EXIT_USAGE
    error = capsys.readouterr().err
    assert "--export int8:" in error and "gru" in error.lower()
    assert not out.exists()  # nothing trained, nothing written


def test_bad_npz_labels_are_a_usage_error_and_leave_nothing_that_blocks_the_fix(
    files, capsys, tmp_path
):
    with np.load(files / "seg.npz") as archive:
        x, y = archive["x"], archive["y"].copy()
    y[5, 2, 3] = 99
    np.savez(tmp_path / "bad.npz", x=x, y=y)
    out = tmp_path / "run"
    argv = ["distill", str(files / "seg_teacher.keras"), str(files / "seg_student.keras")]
    argv += ["--method", "cwd", "--epochs", "1", "--batch-size", "16", "--out", str(out)]
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--data", str(tmp_path / "bad.npz")])
    assert exited.value.code == cli_parser.EXIT_USAGE
    error = capsys.readouterr().err
    assert "--data" in error and "bad.npz" in error and "99" in error
    assert not out.exists()  # checked before anything is written
    # The settings of a run that stopped before its first epoch do not block another.
    (out / "backup").mkdir(parents=True)
    (out / "backup" / "settings.json").write_text('{"data": "bad.npz", "epochs": 7}')
    assert main([*argv, "--data", str(files / "seg.npz")]) == cli_parser.EXIT_OK
    assert sorted(os.listdir(out)) == ["student.keras"]
