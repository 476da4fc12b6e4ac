import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_kd import distillers
from keras_kd.export import to_tflite
from keras_kd.quantization import fake_quant_kernel, float_weights, quantization_aware
from tests.helpers import snapshot, tiny_cnn, tiny_pair, trained_tiny_model


@pytest.fixture(scope="module")
def trained():
    return trained_tiny_model(calibrate_batch_norm=True)


def test_kernel_values_lie_on_a_per_channel_int8_grid():
    kernel = tf.constant(np.random.default_rng(0).normal(size=(3, 3, 4, 5)), tf.float32)
    quantized = fake_quant_kernel(kernel).numpy()
    bound = np.abs(kernel.numpy()).reshape(-1, 5).max(axis=0)
    steps = quantized / (bound / 127.0)
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)
    assert np.abs(steps).max() <= 127 + 1e-3
    assert np.abs(quantized - kernel.numpy()).max() <= (bound / 127.0).max() / 2 + 1e-6


def test_copy_starts_from_the_float_weights_and_tracks_activation_ranges(trained):
    model, x, _ = trained
    before = snapshot(model)
    qat = quantization_aware(model)
    assert type(qat.get_layer("conv1")).__name__ == "QuantConv2D"
    assert type(qat.get_layer("block1")).__name__ == "QuantReLU"
    qat(x, training=True)
    ranges = [float(qat.get_layer("block1").range_max.numpy())]
    assert ranges[0] > 0
    scale = float(np.abs(model(x)).max())
    assert float(np.abs(qat(x) - model(x)).max()) < 0.2 * scale
    np.testing.assert_array_equal(snapshot(model)[0], before[0])


def test_distilling_the_quantization_aware_copy_and_exporting_int8(trained, tmp_path):
    model, x, y = trained
    qat = quantization_aware(model)
    _, teacher = tiny_pair()
    distiller = distillers.KD(student=qat, teacher=teacher)
    distiller.compile(optimizer=keras.optimizers.SGD(1e-3))
    history = distiller.fit(x, y, epochs=1, verbose=0)
    assert "kd_loss" in history.history
    loaded = keras.saving.load_model(_saved(qat, tmp_path))
    np.testing.assert_allclose(loaded(x), qat(x), atol=1e-5)
    deployable = float_weights(qat, tiny_cnn("student", 4))
    np.testing.assert_array_equal(
        deployable.get_layer("conv1").kernel, qat.get_layer("conv1").kernel
    )
    report = to_tflite(
        deployable,
        tmp_path / "q.tflite",
        quantization="int8",
        representative_data=x,
        check_data=(x, y),
    )
    assert report.micro_error is None and report.litert_agreement >= 0.9


def _saved(model, tmp_path):
    path = tmp_path / "qat.keras"
    model.save(path)
    return path


def test_rejects_non_models():
    with pytest.raises(ValueError, match="functional Keras model"):
        quantization_aware("resnet")
