"""`to_tflite` refuses what it cannot check, before converting, and writes nothing
(issue 12, section 7); a mixed-precision student exports as float32."""

import keras
import numpy as np
import pytest

from keras_kd.export import to_tflite
from keras_kd.export.litert import run_litert


def _small_cnn(size=8, filters=4, classes=3):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(classes)(x), name="small")


def _images(n, size=8, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")


@pytest.fixture
def mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy("float32")


def _refused(tmp_path, match, **kwargs):
    path = tmp_path / "m.tflite"
    kwargs.setdefault("model", _small_cnn())
    with pytest.raises(ValueError, match=match):
        to_tflite(path=path, **kwargs)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_representative_data_of_another_shape_is_refused(tmp_path):
    # 16x16 images for an 8x8 model used to give a file agreeing with Keras on 64%.
    _refused(
        tmp_path,
        r"`representative_data`.*\(8, 8, 3\).*Received: representative_data with images of "
        r"shape \(16, 16, 3\)",
        quantization="int8",
        representative_data=_images(20, size=16),
    )


def test_check_data_whose_images_and_labels_differ_in_length_is_refused(tmp_path):
    _refused(
        tmp_path,
        r"`check_data`.*same number.*Received: check_data with 10 images and 8 labels",
        check_data=(_images(10), np.zeros(8, "int64")),
    )


def test_check_data_of_another_shape_is_refused(tmp_path):
    _refused(
        tmp_path,
        r"`check_data`.*\(8, 8, 3\).*Received: check_data with images of shape \(16, 16, 3\)",
        check_data=(_images(10, size=16), np.zeros(10, "int64")),
    )


@pytest.mark.parametrize(
    "y,match",
    [
        (np.full(10, 3), r"`check_data` must be.*Received: .*3"),
        (np.full(10, -1), r"`check_data` must be.*Received: .*-1"),
        (np.eye(5)[np.arange(10) % 5], r"`check_data` must be.*Received: .*5"),
    ],
)
def test_check_data_labels_the_model_cannot_have_are_refused(tmp_path, y, match):
    """Labels out of the 3 classes' range, or one-hot rows of another width."""
    _refused(tmp_path, match, check_data=(_images(10), y))


@pytest.mark.parametrize("samples", [0, -1, 2.5, "10"])
def test_bad_check_samples_are_refused(tmp_path, samples):
    _refused(
        tmp_path,
        f"`check_samples`.*Received: check_samples={samples!r}",
        check_data=(_images(10), np.zeros(10, "int64")),
        check_samples=samples,
    )


def test_a_folder_as_path_is_refused_before_converting(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(ValueError, match=r"`path`.*folder.*Received: path="):
        to_tflite(_small_cnn(), folder)
    assert list(folder.iterdir()) == []


def test_a_mixed_precision_student_exports_as_float32(tmp_path, mixed_precision):
    # It used to fail: "uses TensorFlow ops that have no TFLite built-in kernel: Conv2D, Relu".
    model = _small_cnn()
    assert model.layers[1].compute_dtype == "float16"
    x = _images(16)
    y = np.argmax(model.predict(x, verbose=0), -1)
    path = tmp_path / "m.tflite"
    report = to_tflite(model, path, check_data=(x, y))
    assert path.stat().st_size == report.size_bytes
    assert report.litert_agreement >= 0.9
    assert model.layers[1].compute_dtype == "float16"  # the user's model is not changed
    keras.config.set_dtype_policy("float32")
    reference = _small_cnn()
    reference.set_weights(model.get_weights())
    litert_out, _, _ = run_litert(path.read_bytes(), x)
    np.testing.assert_allclose(litert_out, reference.predict(x, verbose=0), atol=1e-3, rtol=1e-4)
