"""A segmentation student, (n, H, W, C) logits, goes to int8 with per-pixel
checks: labels one per pixel, accuracies and agreements over pixels, mean IoU
in Keras, LiteRT and TFLite-Micro (issue 28, point 6). Before, labelled check
data ended in ``cannot reshape array of size 4096 into shape (64,)``."""

import keras
import numpy as np
import pytest

from keras_kd.evaluation import mean_iou
from keras_kd.export import to_tflite
from tests.helpers import segmentation_data


@pytest.fixture(scope="module")
def segmenter():
    """8x8 images -> 8x8x3 logits, with ops TFLite-Micro has (no UpSampling2D: TILE)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(h)
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1)(h), name="segmenter")
    x, y = segmentation_data(64)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    return model, x, y


def test_int8_segmenter_is_checked_per_pixel_with_mean_iou(segmenter, tmp_path):
    model, x, y = segmenter
    report = to_tflite(
        model,
        tmp_path / "seg.tflite",
        quantization="int8",
        representative_data=x,
        check_data=(x, y),
        verbose=0,
    )
    keras_classes = model.predict(x, verbose=0).argmax(-1)
    assert report.keras_accuracy == pytest.approx(np.mean(keras_classes == y))
    assert report.keras_mean_iou == pytest.approx(mean_iou(y, keras_classes, 3))
    assert report.micro_error is None and report.micro_unsupported_ops == []
    for value in (report.litert_mean_iou, report.micro_mean_iou):
        assert abs(value - report.keras_mean_iou) < 0.05
    assert report.litert_agreement > 0.9 and report.micro_agreement > 0.9
    assert "TFLite-Micro mean IoU" in report.as_table()


def test_one_hot_pixel_labels_give_the_same_report(segmenter, tmp_path):
    model, x, y = segmenter
    sparse, dense = (
        to_tflite(model, tmp_path / f"{i}.tflite", check_data=(x, labels), verbose=0)
        for i, labels in enumerate((y, np.eye(3)[y]))
    )
    assert sparse.litert_mean_iou == dense.litert_mean_iou
    assert sparse.keras_accuracy == dense.keras_accuracy
    assert sparse.litert_agreement == 1.0


def test_a_classifier_report_has_no_mean_iou(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    report = to_tflite(model, tmp_path / "c.tflite", check_data=(x, np.zeros(16)), verbose=0)
    assert report.keras_mean_iou is None and "mean IoU" not in report.as_table()
