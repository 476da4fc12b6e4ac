"""A detector student with class and box heads exports whole: the class head
(``logits_output``) is checked against its labels, every head's LiteRT output
is compared with Keras's (issue 28, point 1). The converter orders a list
model's outputs otherwise than Keras (``box`` first), so outputs are matched
by signature name; by position the class check would read the box offsets."""

import keras
import numpy as np
import pytest

from keras_kd.distillers import KD
from keras_kd.export import to_tflite
from keras_kd.export.convert import convert
from keras_kd.export.litert import Interpreter
from tests.helpers import ANCHORS, CLASSES, detection_data, detector


@pytest.fixture(scope="module", params=["dict", "list"])
def trained(request):
    """A detector student trained briefly by KD (the class head has clear classes)."""
    keras.utils.set_random_seed(0)
    student, teacher = detector("student", 8, request.param), detector("teacher", 8, request.param)
    name = "classes" if request.param == "dict" else "cls"
    x, classes, boxes = detection_data(64)
    y = {"classes": classes, "boxes": boxes} if request.param == "dict" else [classes, boxes]
    distiller = KD(student, teacher, logits_output=name)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    loss = {"classes": ce, "boxes": "mse"} if request.param == "dict" else [ce, "mse"]
    distiller.compile("adam", loss=loss)
    distiller.fit(x, y, batch_size=16, epochs=5, verbose=0)
    return distiller, name, x, classes


def test_the_list_models_file_orders_its_outputs_otherwise():
    """The reason outputs are matched by name (TF 2.21's converter)."""
    model = detector("order", 4, "list")
    interpreter = Interpreter(model_content=convert(model))
    runner = interpreter.get_signature_runner("serving_default")
    by_name = {name: d["index"] for name, d in runner.get_output_details().items()}
    first = interpreter.get_output_details()[0]["index"]
    assert by_name["output_1"] == first  # Keras's second output, the boxes


def test_a_two_head_student_goes_to_int8_checked_on_its_class_head(trained, tmp_path):
    distiller, name, x, classes = trained
    path = tmp_path / "detector.tflite"
    report = to_tflite(
        distiller, path, quantization="int8", representative_data=x, check_data=(x, classes)
    )
    assert path.exists() and report.micro_error is None
    keras_out = distiller.student.predict(x, verbose=0)
    keras_classes = (keras_out[name] if isinstance(keras_out, dict) else keras_out[0]).argmax(-1)
    expected = np.mean(keras_classes == classes)
    assert report.keras_accuracy == pytest.approx(expected)
    assert report.litert_agreement > 0.95 and report.micro_agreement > 0.95
    assert report.samples == len(x) and report.keras_mean_iou is not None
    heads = set(report.output_max_abs_diff)
    assert heads == ({"classes", "boxes"} if name == "classes" else {"cls", "box"})
    assert report.output_max_abs_diff[name] == report.max_abs_diff
    assert all(0 < diff < 0.5 for diff in report.output_max_abs_diff.values())
    assert "LiteRT max |diff| of" in report.as_table()
    assert report.logits_output == name
    assert f"output {name!r} scale, zero point" in report.as_table()


def test_a_float_export_matches_every_head(trained, tmp_path):
    distiller, name, x, classes = trained
    report = to_tflite(
        distiller.student,
        tmp_path / "f.tflite",
        check_data=(x, classes),
        logits_output=name,
        verbose=0,
    )
    assert report.litert_agreement == 1.0
    assert all(diff < 1e-4 for diff in report.output_max_abs_diff.values())


def test_several_outputs_without_logits_output_are_refused_before_converting(tmp_path):
    model = detector("unnamed", 4)
    with pytest.raises(ValueError, match=r"logits_output='classes'.*Received: model='unnamed'"):
        to_tflite(model, tmp_path / "x.tflite", verbose=0)
    with pytest.raises(ValueError, match=r"Received: logits_output='scores'"):
        to_tflite(model, tmp_path / "x.tflite", logits_output="scores", verbose=0)
    assert list(tmp_path.iterdir()) == []
    assert model.output["classes"].shape[1:] == (ANCHORS, CLASSES)
