"""Export of sequence models: token ids stay integer in an int8 file, recurrent
layers are refused for int8 before anything runs (TensorFlow's calibrator
crashes on them), and a file that disagrees with Keras is not written."""

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

import keras_kd.export as export
from keras_kd.errors import ExportMismatchError
from keras_kd.export import to_tflite

VOCABULARY, STEPS = 50, 6


def _token_model():
    keras.utils.set_random_seed(0)
    tokens = keras.Input((STEPS,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(VOCABULARY, 8)(tokens)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(tokens, keras.layers.Dense(3)(x), name="token_student")


def _tokens(n=64):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, VOCABULARY, (n, STEPS)).astype("int32")
    return ids, rng.integers(0, 3, n)


def _recurrent_model(layer):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((STEPS, 4))
    return keras.Model(inputs, keras.layers.Dense(3)(layer(inputs)), name="recurrent_student")


def test_int8_export_keeps_token_ids_integer_and_agrees_with_keras(tmp_path):
    model = _token_model()
    ids, y = _tokens()
    path = tmp_path / "tokens.tflite"
    report = to_tflite(
        model, path, quantization="int8", representative_data=ids, check_data=(ids, y), verbose=0
    )
    interpreter = Interpreter(model_path=str(path))
    (detail,) = interpreter.get_input_details()
    assert detail["dtype"] == np.int32  # not quantized to int8: ids map to themselves
    assert detail["quantization"] == (0.0, 0)
    assert report.litert_agreement >= 0.95
    assert report.micro_agreement is not None or report.micro_error


@pytest.mark.parametrize("layer", ["lstm", "gru", "bidirectional", "nested"])
def test_int8_export_of_a_recurrent_model_is_refused_before_anything_runs(layer, tmp_path):
    built = {
        "lstm": lambda: keras.layers.LSTM(4, name="lstm"),
        "gru": lambda: keras.layers.GRU(4, name="gru"),
        "bidirectional": lambda: keras.layers.Bidirectional(keras.layers.LSTM(4), name="bi"),
        "nested": lambda: keras.Sequential([keras.layers.GRU(4, name="inner_gru")], name="body"),
    }[layer]()
    model = _recurrent_model(built)
    x = np.random.default_rng(0).normal(size=(8, STEPS, 4)).astype("float32")
    path = tmp_path / "recurrent.tflite"
    with pytest.raises(ValueError, match="quantization='dynamic'.*'float16'") as raised:
        to_tflite(model, path, quantization="int8", representative_data=x, verbose=0)
    assert "Received: model='recurrent_student'" in str(raised.value)
    assert not path.exists()  # and this process is alive: the calibrator never ran


def test_a_recurrent_model_exports_with_dynamic_range(tmp_path):
    model = _recurrent_model(keras.layers.LSTM(4))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, STEPS, 4)).astype("float32"), rng.integers(0, 3, 32)
    report = to_tflite(model, tmp_path / "lstm.tflite", quantization="dynamic", check_data=(x, y))
    assert report.litert_agreement >= 0.95


def test_a_file_that_disagrees_with_keras_is_not_written(tmp_path, monkeypatch):
    model = _token_model()
    ids, y = _tokens(32)
    run_litert = export.run_litert

    def disagreeing(*args, **kwargs):
        out, inputs, outputs = run_litert(*args, **kwargs)
        return -out, inputs, outputs  # another top-1 class on (almost) every sample

    monkeypatch.setattr(export, "run_litert", disagreeing)
    path = tmp_path / "tokens.tflite"
    with pytest.raises(ExportMismatchError, match="below `min_agreement` 90%"):
        to_tflite(model, path, check_data=(ids, y), verbose=0)
    assert not path.exists()
    to_tflite(model, path, check_data=(ids, y), min_agreement=None, verbose=0)
    assert path.exists()


@pytest.mark.parametrize("value", [1.5, -0.1, "high"])
def test_min_agreement_out_of_range_is_refused(value, tmp_path):
    with pytest.raises(ValueError, match="`min_agreement` must be a number in"):
        to_tflite(_token_model(), tmp_path / "m.tflite", min_agreement=value)
    assert not (tmp_path / "m.tflite").exists()
