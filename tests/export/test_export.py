import keras
import numpy as np
import pytest

import keras_kd_cli as cli
from keras_kd import distillers
from keras_kd.export import to_tflite
from tests.helpers import tiny_data, tiny_pair, trained_tiny_model


@pytest.fixture(scope="module")
def trained():
    return trained_tiny_model()


@pytest.mark.parametrize(
    "quantization,tolerance",
    [(None, 1e-4), ("float16", 0.1), ("dynamic", 0.5), ("int8", 1.0)],
)
def test_every_mode_runs_in_litert_close_to_keras(
    trained, tmp_path, capsys, quantization, tolerance
):
    model, x, y = trained
    path = tmp_path / "m.tflite"
    verbose = 2 if quantization in (None, "int8") else 0
    report = to_tflite(
        model,
        path,
        quantization=quantization,
        representative_data=x,
        check_data=(x, y),
        verbose=verbose,
    )
    printed, n = capsys.readouterr().out, len(x)
    if verbose == 0:
        assert printed == ""
    else:  # one line per stage
        assert f"TFLite conversion of 'student' ({quantization or 'float32'})\n" in printed
        assert f"LiteRT check {n}/{n} - " in printed
        int8_stages = [f"int8 calibration {n}/{n} - ", f"TFLite-Micro check {n}/{n} - "]
        assert [s in printed for s in int8_stages] == [quantization == "int8"] * 2
    assert path.stat().st_size == report.size_bytes > 0
    assert report.max_abs_diff < tolerance
    assert report.litert_agreement >= (1.0 if quantization is None else 0.9)
    assert report.keras_accuracy == pytest.approx(report.litert_accuracy, abs=0.1)
    assert report.micro_unsupported_ops == []
    if quantization == "int8":
        assert report.micro_error is None
        assert 0 < report.arena_bytes < 64 * 1024
        assert report.micro_agreement >= 0.9
    else:
        assert report.arena_bytes is None


def test_int8_file_is_smaller_than_float32(trained, tmp_path):
    model, x, _ = trained
    float_report = to_tflite(model, tmp_path / "f.tflite")
    int8_report = to_tflite(
        model, tmp_path / "q.tflite", quantization="int8", representative_data=x
    )
    assert int8_report.size_bytes < float_report.size_bytes


def test_a_distiller_exports_its_student_not_the_teacher(tmp_path):
    student, teacher = tiny_pair()
    distiller = distillers.KD(student=student, teacher=teacher)
    x, y = tiny_data(8)
    report = to_tflite(distiller, tmp_path / "s.tflite", check_data=(x, y))
    direct = to_tflite(student, tmp_path / "direct.tflite")
    assert report.size_bytes == direct.size_bytes
    assert report.max_abs_diff < 1e-4


def test_int8_without_representative_data_is_refused_and_writes_nothing(trained, tmp_path):
    model, _, _ = trained
    path = tmp_path / "q.tflite"
    with pytest.raises(ValueError, match="representative_data.*Received: representative_data=None"):
        to_tflite(model, path, quantization="int8")
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_unknown_quantization_is_refused(trained, tmp_path):
    with pytest.raises(ValueError, match="quantization.*Received: quantization='int4'"):
        to_tflite(trained[0], tmp_path / "m.tflite", quantization="int4")


def test_ops_without_builtin_kernels_are_named(tmp_path):
    inputs = keras.Input((4,))
    square = keras.layers.Reshape((2, 2))(inputs)
    outputs = keras.layers.Flatten()(keras.layers.Lambda(lambda t: keras.ops.inv(t))(square))
    with pytest.raises(ValueError, match=r"no TFLite built-in.*MatrixInverse"):
        to_tflite(keras.Model(inputs, outputs), tmp_path / "m.tflite")


def test_cli_export_prints_the_report_and_checks_mcu_budgets(trained, tmp_path, capsys):
    model, _, _ = trained
    keras.utils.set_random_seed(0)  # an unlucky init can tie logits that int8 then flips
    inputs = keras.Input((32, 32, 3))
    small = keras.Model(
        inputs, keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(inputs))
    )
    path = tmp_path / "small.keras"
    small.save(path)
    out = tmp_path / "small.tflite"
    argv = [
        "export",
        str(path),
        str(out),
        "--quantize",
        "int8",
        "--data",
        "sample",
        "--target",
        "mcu",
    ]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "TFLite-Micro arena" in printed and "MCU check passed" in printed
    assert "int8 calibration 200/200" in printed and "TFLite-Micro check 1000/1000" in printed
    assert cli.main([*argv, "--ram-kb", "1", "--flash-kb", "1", "--quiet"]) == 1
    printed = capsys.readouterr().out
    assert "over the 1 KiB RAM budget" in printed and "TFLite-Micro arena" in printed
    assert "calibration" not in printed and "check 1000/1000" not in printed


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--quantize", "int4"], "invalid choice: 'int4'"),
        (["--quantize", "int8"], "needs --data"),
        (["--target", "mcu"], "--target mcu needs --quantize int8"),
        (["--flash-kb", "-3"], "must be an integer >= 1"),
    ],
)
def test_cli_export_rejects_bad_flags(trained, tmp_path, capsys, extra, message):
    path = tmp_path / "m.keras"
    trained[0].save(path)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["export", str(path), str(tmp_path / "m.tflite"), *extra])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_check_samples_selects_the_subset_every_accuracy_uses(trained, tmp_path):
    model, x, y = trained
    few = to_tflite(model, tmp_path / "a.tflite", check_data=(x, y), check_samples=10)
    every = to_tflite(model, tmp_path / "b.tflite", check_data=(x, y), check_samples=None)
    assert (few.samples, every.samples) == (10, len(x))
    assert every.keras_accuracy == pytest.approx(float(np.mean(np.argmax(model(x), -1) == y)))


def test_labels_of_every_kind_give_the_same_accuracy(trained, tmp_path):
    model, x, y = trained
    reports = [
        to_tflite(model, tmp_path / f"m{i}.tflite", check_data=(x, labels))
        for i, labels in enumerate([y, y.reshape(-1, 1), np.eye(3, dtype="float32")[y]])
    ]
    expected = float(np.mean(model.predict(x, verbose=0).argmax(-1) == y))
    assert [r.keras_accuracy for r in reports] == [pytest.approx(expected)] * 3


def test_a_single_logit_classifier_is_checked_on_its_sign(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = (model.predict(x, verbose=0)[:, 0] > 0).astype("int32")
    y[:8] = 1 - y[:8]  # 56 of 64 right
    report = to_tflite(model, tmp_path / "b.tflite", check_data=(x, y))
    assert report.keras_accuracy == pytest.approx(56 / 64)
    assert report.litert_accuracy == pytest.approx(56 / 64)


def test_born_again_exports_its_last_generation(tmp_path):
    from keras_kd.export.convert import deployable_model

    student, teacher = tiny_pair()
    ban = distillers.BornAgain(teacher, lambda: tiny_pair()[0], generations=1)
    ban.models = [student]
    assert deployable_model(ban) is student
    to_tflite(ban, tmp_path / "ban.tflite")
    assert (tmp_path / "ban.tflite").stat().st_size > 0
