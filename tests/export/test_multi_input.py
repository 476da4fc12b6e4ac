"""Models with several inputs (a list or a dict of inputs) export and are checked
(issue 12, section 6): x is matched to the model's inputs by position or by name,
the file's inputs by their signature names, each input is checked and named."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from keras_kd import distillers
from keras_kd.export import to_tflite

IMAGE_SHAPE, META_SHAPE, CLASSES = (6, 6, 3), (4,), 3


def _two_input_model(kind="list", width=4, name="two_inputs"):
    """An image and a metadata vector. Both list ``image`` first (the dict model
    in `model.inputs`, keys sorted); the converter puts ``meta`` first in the file."""
    keras.utils.set_random_seed(0)
    image = keras.Input(IMAGE_SHAPE, name="image")
    meta = keras.Input(META_SHAPE, name="meta")
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(image)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Concatenate()([x, keras.layers.Dense(width, activation="relu")(meta)])
    outputs = keras.layers.Dense(CLASSES)(x)
    inputs = {"meta": meta, "image": image} if kind == "dict" else [image, meta]
    return keras.Model(inputs, outputs, name=name)


def _inputs(n=24, seed=0):
    """Images in 0..255 and metadata near 0: each input needs its own int8 scale."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(0, 255, (n, *IMAGE_SHAPE)).astype("float32")
    meta = rng.normal(0, 2, (n, *META_SHAPE)).astype("float32")
    return image, meta


def _x(kind, image, meta):
    return {"meta": meta, "image": image} if kind == "dict" else [image, meta]


def _labels(model, x):
    """Keras's predictions with every fourth label moved: accuracies below 100%."""
    y = np.argmax(model.predict(x, verbose=0), -1)
    y[::4] = (y[::4] + 1) % CLASSES
    return y


@pytest.mark.parametrize("quantization", [None, "int8"])
@pytest.mark.parametrize("kind", ["list", "dict"])
def test_a_two_input_model_exports_and_matches_keras(tmp_path, kind, quantization):
    model = _two_input_model(kind)
    x = _x(kind, *_inputs())
    y = _labels(model, x)
    path = tmp_path / "m.tflite"
    report = to_tflite(
        model, path, quantization=quantization, representative_data=x, check_data=(x, y)
    )
    assert path.stat().st_size == report.size_bytes > 0
    assert report.samples == 24
    assert report.keras_accuracy == pytest.approx(0.75)
    assert report.litert_accuracy == pytest.approx(report.keras_accuracy, abs=0.1)
    if quantization is None:
        assert report.max_abs_diff < 1e-4
        assert report.litert_agreement == 1.0
        assert report.arena_bytes is None
    else:
        assert report.litert_agreement >= 0.9
        assert report.micro_error is None
        assert report.micro_accuracy == pytest.approx(report.keras_accuracy, abs=0.1)
        assert report.micro_agreement >= 0.9
        assert 0 < report.arena_bytes < 64 * 1024


@pytest.mark.parametrize("quantization", [None, "int8"])
def test_the_file_inputs_are_matched_by_name(tmp_path, quantization):
    model = _two_input_model("list")
    image, meta = _inputs()
    path = tmp_path / "m.tflite"
    report = to_tflite(model, path, quantization=quantization, representative_data=[image, meta])
    assert report.litert_agreement == 1.0
    details = Interpreter(model_content=path.read_bytes()).get_input_details()
    # The file lists the inputs in another order than the model: fed by position,
    # the image would go to the metadata input (and fail on its shape).
    assert [d["name"] for d in details] == ["serving_default_meta:0", "serving_default_image:0"]
    assert [tuple(d["shape"]) for d in details] == [(1, *META_SHAPE), (1, *IMAGE_SHAPE)]
    if quantization == "int8":  # each input has its own scale
        assert all(d["dtype"] == np.int8 for d in details)
        meta_scale, image_scale = (d["quantization"][0] for d in details)
        assert image_scale > 10 * meta_scale  # 0..255 against a few units around 0
        assert report.micro_error is None and report.micro_agreement == 1.0


def test_x_by_name_and_by_position_and_datasets_of_tuples_or_dicts(tmp_path):
    list_model, dict_model = _two_input_model("list"), _two_input_model("dict")
    image, meta = _inputs(16)
    x = {"meta": meta, "image": image}
    y = _labels(dict_model, x)
    by_position = to_tflite(list_model, tmp_path / "a.tflite", check_data=((image, meta), y))
    by_name = to_tflite(list_model, tmp_path / "b.tflite", check_data=(x, y))
    from_dict = to_tflite(dict_model, tmp_path / "c.tflite", check_data=(x, y))
    assert by_position.keras_accuracy == by_name.keras_accuracy == pytest.approx(0.75)
    assert from_dict.keras_accuracy == pytest.approx(0.75)
    unbatched_dicts = tf.data.Dataset.from_tensor_slices((x, y))
    batched_tuples = tf.data.Dataset.from_tensor_slices(((image, meta), y)).batch(5)
    report = to_tflite(
        list_model,
        tmp_path / "d.tflite",
        quantization="int8",
        representative_data=batched_tuples.map(lambda x, y: x),
        check_data=unbatched_dicts,
        check_samples=12,
    )
    assert report.samples == 12
    assert report.micro_error is None and report.micro_agreement >= 0.9
    assert report.keras_accuracy == pytest.approx(0.75)


def _refused(tmp_path, match, **kwargs):
    path = tmp_path / "m.tflite"
    with pytest.raises(ValueError, match=match):
        to_tflite(_two_input_model(kwargs.pop("kind", "list")), path, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_an_input_of_another_shape_is_refused_by_name(tmp_path):
    image, meta = _inputs(8)
    y = np.zeros(8, "int64")
    _refused(
        tmp_path,
        r"`representative_data` input 'meta' must have the model's input shape \(4,\).*"
        r"Received: representative_data with input 'meta' of shape \(5,\)",
        quantization="int8",
        representative_data=[image, np.zeros((8, 5), "float32")],
    )
    _refused(
        tmp_path,
        r"`check_data` input 'image' must have the model's input shape \(6, 6, 3\).*"
        r"Received: check_data with input 'image' of shape \(8, 8, 3\)",
        kind="dict",
        check_data=({"image": np.zeros((8, 8, 8, 3), "float32"), "meta": meta}, y),
    )
    swapped = tf.data.Dataset.from_tensor_slices(((meta, image), y)).batch(4)
    _refused(
        tmp_path,
        r"`check_data` input 'image'.*Received: check_data with input 'image' of shape \(4,\)",
        check_data=swapped,
    )


@pytest.mark.parametrize(
    "check_data,match",
    [
        (
            lambda p, m, y: ({"image": p}, y),
            r"keyed by the model's input names \['image', 'meta'\]\. "
            r"Received: check_data with keys \['image'\]",
        ),
        (
            lambda p, m, y: ([p, m, m], y),
            r"2 arrays, one per model input \['image', 'meta'\].*Received: check_data with 3",
        ),
        (
            lambda p, m, y: ([p, m[:6]], y),
            r"same number of samples\. Received: check_data with 8 for 'image', 6 for 'meta'",
        ),
        (
            lambda p, m, y: ([p, m], y[:6]),
            r"one label.*Received: check_data with 8 samples and 6 labels",
        ),
        (lambda p, m, y: (p, y), r"Received: check_data with x of type ndarray"),
        (lambda p, m, y: ([p, m],), r"pair x.*Received: check_data with elements of type tuple"),
    ],
)
def test_malformed_check_data_is_refused_before_converting(tmp_path, check_data, match):
    image, meta = _inputs(8)
    _refused(tmp_path, match, check_data=check_data(image, meta, np.zeros(8, "int64")))


def test_a_dict_input_model_takes_x_by_name_only(tmp_path):
    image, meta = _inputs(8)
    _refused(
        tmp_path,
        r"`check_data` must give x as a dict keyed by the model's input names "
        r"\['image', 'meta'\].*by name, not by position\. Received: check_data with x as "
        r"a list of 2 arrays",
        kind="dict",
        check_data=([image, meta], np.zeros(8, "int64")),
    )


def test_images_alone_are_refused_as_representative_data(tmp_path):
    _refused(
        tmp_path,
        r"`representative_data` must give the model's 2 inputs \['image', 'meta'\].*"
        r"Received: representative_data with x of type ndarray",
        quantization="int8",
        representative_data=_inputs(8)[0],
    )


def test_a_distilled_two_input_student_exports(tmp_path):
    student = _two_input_model("list", width=2, name="student")
    teacher = _two_input_model("list", width=8, name="teacher")
    image, meta = _inputs(32)
    y = np.random.default_rng(1).integers(0, CLASSES, 32)
    distiller = distillers.KD(student=student, teacher=teacher)
    distiller.compile(keras.optimizers.Adam(1e-3))
    distiller.fit([image, meta], y, batch_size=16, epochs=1, verbose=0)
    path = tmp_path / "student.tflite"
    report = to_tflite(
        distiller,
        path,
        quantization="int8",
        representative_data=[image, meta],
        check_data=([image, meta], y),
    )
    assert report.size_bytes == path.stat().st_size
    assert report.litert_agreement >= 0.9
    assert report.micro_error is None and report.micro_agreement >= 0.9
    float_report = to_tflite(distiller, tmp_path / "f.tflite", check_data=([image, meta], y))
    assert float_report.max_abs_diff < 1e-4
    assert float_report.keras_accuracy == pytest.approx(
        np.mean(np.argmax(student.predict([image, meta], verbose=0), -1) == y)
    )
    assert len(Interpreter(model_content=path.read_bytes()).get_input_details()) == 2
