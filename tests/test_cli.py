import os

import keras
import pytest

from keras_kd import cli, demo


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
