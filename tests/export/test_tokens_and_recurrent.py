"""Token-id inputs, recurrent students and the agreement threshold (issue 27, points 1-2).

Integer token ids used to be quantized like pixels by int8 export (int8
input, scale 0.19, zero point -128: 24 of 50 ids mapped to others, LiteRT
agreeing with Keras on 58-77%), and the wrong file was written without an
error. Full int8 export of an LSTM, GRU or SimpleRNN killed the Python
process (a segmentation fault in TensorFlow's calibrator, exit code 139).
"""

import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from keras_kd.export import ExportAgreementError, to_tflite
from tests.helpers import sequence_data, tagger

VOCAB, STEPS = 50, 12


def _token_ids(n=64, seed=0):
    """Ids in [1, VOCAB), zero-padded after a random length (token 0 is padding)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCAB, (n, STEPS)).astype("int32")
    x[np.arange(STEPS)[None, :] >= rng.integers(3, STEPS + 1, n)[:, None]] = 0
    return x


def _embedding_model(attention=False):
    keras.utils.set_random_seed(0)
    tokens = keras.Input((STEPS,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(VOCAB, 8, mask_zero=attention)(tokens)
    if attention:  # the padding mask reaches the attention
        x = keras.layers.MultiHeadAttention(2, 4)(x, x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(tokens, keras.layers.Dense(3)(x), name="attention" if attention else "bag")


def _file_input(path):
    detail = Interpreter(model_path=str(path)).get_input_details()[0]
    return detail["dtype"], detail["quantization"]


def _labelled(model, x):
    return x, np.argmax(model.predict(x, verbose=0), -1)


@pytest.mark.parametrize("quantization", [None, "int8"])
def test_embedding_student_keeps_int32_token_ids(tmp_path, quantization):
    model = _embedding_model()
    x = _token_ids()
    path = tmp_path / "m.tflite"
    report = to_tflite(
        model,
        path,
        quantization=quantization,
        representative_data=x,
        check_data=_labelled(model, x),
    )
    assert _file_input(path) == (np.int32, (0.0, 0))  # was int8, scale 0.19, zero point -128
    assert report.input_quantization == [None]
    assert report.litert_agreement >= 0.95  # was 0.77 for int8
    if quantization == "int8":
        # Keras's Embedding emits SELECT, which TFLite-Micro has no kernel for: named.
        assert "SELECT" in report.micro_unsupported_ops
        assert "Didn't find op for builtin opcode 'SELECT'" in report.micro_error
        assert report.output_quantization is not None  # the output is still int8


def test_masked_attention_student_keeps_int32_token_ids_in_int8(tmp_path):
    model = _embedding_model(attention=True)
    x = _token_ids(seed=1)
    path = tmp_path / "m.tflite"
    report = to_tflite(
        model, path, quantization="int8", representative_data=x, check_data=_labelled(model, x)
    )
    assert _file_input(path) == (np.int32, (0.0, 0))
    assert report.litert_agreement >= 0.9  # was 0.60


def test_token_ids_given_as_whole_floats_are_fed_as_integers(tmp_path):
    model = _embedding_model()
    x = _token_ids()
    _, y = _labelled(model, x)
    report = to_tflite(model, tmp_path / "m.tflite", check_data=(x.astype("float32"), y))
    assert report.litert_agreement == 1.0


def test_non_integer_token_ids_are_refused(tmp_path):
    x = _token_ids().astype("float32") + 0.5
    with pytest.raises(ValueError, match=r"`check_data` x must hold integers.*int32"):
        to_tflite(_embedding_model(), tmp_path / "m.tflite", check_data=(x, np.zeros(len(x))))
    assert list(tmp_path.iterdir()) == []


def _dense_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3)(hidden), name="mlp")


def test_a_file_that_disagrees_with_keras_is_an_error_and_not_written(tmp_path):
    # Calibrated on features 100 times smaller than the check data: every
    # activation saturates, and the file agrees with Keras on few samples.
    model = _dense_model()
    x = np.random.default_rng(0).normal(size=(64, 6)).astype("float32") * 10
    path = tmp_path / "m.tflite"
    kwargs = dict(quantization="int8", representative_data=x / 100, check_data=_labelled(model, x))
    with pytest.raises(ExportAgreementError) as info:
        to_tflite(model, path, **kwargs)
    agreement = info.value.report.litert_agreement
    assert agreement < 0.9
    message = str(info.value)
    assert re.search(
        r"agrees with the Keras model on \d+\.\d% of the \d+ check samples \(of 64\)"
        r" with a clear Keras class, in LiteRT",
        message,
    )
    assert "min_agreement=0.9" in message and "min_agreement=None" in message
    assert "representative_data" in message  # what to do
    assert isinstance(info.value, ValueError)
    assert list(tmp_path.iterdir()) == []
    report = to_tflite(model, path, min_agreement=None, **kwargs)  # written when asked
    assert report.litert_agreement == agreement and path.stat().st_size == report.size_bytes


def test_a_micro_file_that_disagrees_is_an_error(tmp_path, monkeypatch):
    import keras_kd.export as export

    def shuffled(model_bytes, inputs, verbose=0, output=0):
        outputs, arena = run_micro(model_bytes, inputs, verbose, output)
        return np.roll(outputs, 1, axis=-1), arena  # every sample's top class moves

    run_micro = export.run_micro
    monkeypatch.setattr(export, "run_micro", shuffled)
    model = _dense_model()
    x = np.random.default_rng(0).normal(size=(32, 6)).astype("float32")
    with pytest.raises(ExportAgreementError, match=r"clear Keras class, in TFLite-Micro"):
        to_tflite(
            model,
            tmp_path / "m.tflite",
            quantization="int8",
            representative_data=x,
            check_data=_labelled(model, x),
        )
    assert list(tmp_path.iterdir()) == []


def test_a_single_logit_int8_model_is_judged_on_its_dequantized_sign_in_micro(tmp_path):
    # TFLite-Micro's raw int8 output used to be compared with 0, ignoring its zero point.
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32") + 1.0
    y = (model.predict(x, verbose=0)[:, 0] > 0).astype("int32")
    report = to_tflite(
        model, tmp_path / "b.tflite", quantization="int8", representative_data=x, check_data=(x, y)
    )
    assert report.output_quantization[1] != 0  # a zero point that the raw sign ignores
    assert report.micro_agreement == pytest.approx(report.litert_agreement)
    assert report.micro_agreement >= 0.9


@pytest.mark.parametrize("value", [-0.1, 1.5, True, "0.9"])
def test_bad_min_agreement_is_refused(tmp_path, value):
    with pytest.raises(ValueError, match=rf"`min_agreement`.*Received: min_agreement={value!r}"):
        to_tflite(_dense_model(), tmp_path / "m.tflite", min_agreement=value)
    assert list(tmp_path.iterdir()) == []


def _recurrent_model(kind):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 3))
    if kind == "bidirectional":
        x = keras.layers.Bidirectional(keras.layers.LSTM(4, name="lstm"))(inputs)
    elif kind == "nested":  # an LSTM inside a sub-model
        block_in = keras.Input((6, 3))
        block = keras.Model(block_in, keras.layers.LSTM(4, name="lstm")(block_in), name="block")
        x = block(inputs)
    else:
        x = getattr(keras.layers, kind)(4, name="rnn")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3)(x), name=f"{kind.lower()}_student")


def _sequences(n=32):
    return np.random.default_rng(0).normal(size=(n, 6, 3)).astype("float32")


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN", "bidirectional", "nested"])
def test_int8_refuses_recurrent_layers_before_anything_runs(tmp_path, kind):
    # Each of these used to kill the test process (exit code 139) in the calibrator.
    path = tmp_path / "m.tflite"
    with pytest.raises(ValueError) as info:
        to_tflite(
            _recurrent_model(kind), path, quantization="int8", representative_data=_sequences()
        )
    message = str(info.value)
    assert "(LSTM)" in message or f"({kind})" in message  # the layer is named
    assert "segmentation fault" in message
    assert "quantization='float16'" in message and "'dynamic'" in message
    assert "unroll=True" in message
    assert "Received: model=" in message and "quantization='int8'" in message
    assert list(tmp_path.iterdir()) == []  # alive, and nothing half-written


@pytest.mark.parametrize("quantization", ["float16", "dynamic"])
def test_an_lstm_student_exports_in_float16_and_dynamic_range(tmp_path, quantization):
    model = _recurrent_model("LSTM")
    x = _sequences()
    report = to_tflite(
        model, tmp_path / "m.tflite", quantization=quantization, check_data=_labelled(model, x)
    )
    assert report.litert_agreement == 1.0 and report.max_abs_diff < 1e-2


def test_an_unrolled_lstm_student_exports_in_int8_and_runs_on_micro(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 3))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.LSTM(4, unroll=True)(inputs)))
    x = _sequences(64)
    report = to_tflite(
        model,
        tmp_path / "m.tflite",
        quantization="int8",
        representative_data=x,
        check_data=_labelled(model, x),
    )
    assert report.litert_agreement >= 0.9 and report.micro_agreement >= 0.9
    assert report.micro_error is None and report.arena_bytes > 0


_CHILD = textwrap.dedent(
    """
    import keras, numpy as np
    from keras_kd.export import to_tflite
    inputs = keras.Input((6, 3))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.LSTM(4)(inputs)))
    x = np.random.default_rng(0).normal(size=(16, 6, 3)).astype("float32")
    try:
        to_tflite(model, {path!r}, quantization="int8", representative_data=x)
    except ValueError as err:
        print("REFUSED", err)
    """
)


@pytest.mark.slow
def test_int8_lstm_export_leaves_the_process_alive(tmp_path):
    # In a child process: before the fix it died of SIGSEGV (return code -11).
    path = tmp_path / "m.tflite"
    child = subprocess.run(
        [sys.executable, "-c", _CHILD.format(path=str(path))],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert "REFUSED quantization='int8' cannot convert recurrent layers" in child.stdout
    assert not path.exists()


def test_sample_weights_leave_a_sequences_padding_out_of_the_check(tmp_path):
    """Padded tokens used to count in the accuracy and agreement (issue 28)."""
    keras.utils.set_random_seed(0)
    model = tagger("padded", 6)
    tokens, following = sequence_data(24)
    weights = (tokens > 0).astype("float32")
    predicted = model.predict(tokens, verbose=0).argmax(-1)
    real = weights > 0
    report = to_tflite(model, tmp_path / "t.tflite", check_data=(tokens, following, weights))
    assert report.keras_accuracy == pytest.approx(np.mean((predicted == following)[real]))
    everywhere = to_tflite(model, tmp_path / "u.tflite", check_data=(tokens, following))
    assert everywhere.keras_accuracy == pytest.approx(np.mean(predicted == following))
    assert report.keras_accuracy != everywhere.keras_accuracy
    dataset = tf.data.Dataset.from_tensor_slices((tokens, following, weights)).batch(8)
    again = to_tflite(model, tmp_path / "v.tflite", check_data=dataset)
    assert again.keras_accuracy == report.keras_accuracy
    with pytest.raises(ValueError, match=r"sample weights must be non-negative.*\(24, 5\)"):
        to_tflite(model, tmp_path / "w.tflite", check_data=(tokens, following, weights[:, :5]))
    assert not (tmp_path / "w.tflite").exists()
