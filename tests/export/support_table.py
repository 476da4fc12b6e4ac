"""What each TFLite mode does with each kind of student: the README's table.

Run: ``PYTHONPATH=. python -m tests.export.support_table`` (about 2 minutes on
2 cores). Each model is tiny and seeded, trained for a few epochs on a
synthetic task so that its classes are not near-ties (an untrained model's
logits differ by less than one int8 step); the check data are 200 other
samples labelled by the Keras model itself, so accuracy is agreement. Not a
test: pytest does not collect it.
"""

import keras
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from keras_kd.export import to_tflite

PATH = "/tmp/support_table.tflite"

N, VOCAB, TOKENS = 400, 50, 12
MODES = (None, "float16", "dynamic", "int8")


def _tokens(rng, n):
    x = rng.integers(1, VOCAB, (n, TOKENS)).astype("int32")
    x[np.arange(TOKENS)[None, :] >= rng.integers(3, TOKENS + 1, n)[:, None]] = 0
    return x


def _students():
    """``(name, build, data)``: a model builder and ``rng -> x`` for each kind."""
    layers = keras.layers

    def cnn():
        i = keras.Input((16, 16, 3))
        x = layers.Conv2D(8, 3, padding="same", activation="relu")(i)
        return i, layers.GlobalAveragePooling2D()(x)

    def mlp():
        i = keras.Input((6,))
        return i, layers.Dense(16, activation="relu")(i)

    def conv1d():
        i = keras.Input((32, 1))
        x = layers.Conv1D(4, 5, activation="relu")(i)
        return i, layers.GlobalAveragePooling1D()(x)

    def embedding():
        i = keras.Input((TOKENS,), dtype="int32")
        return i, layers.GlobalAveragePooling1D()(layers.Embedding(VOCAB, 8)(i))

    def attention():
        i = keras.Input((TOKENS,), dtype="int32")
        x = layers.Embedding(VOCAB, 8, mask_zero=True)(i)
        return i, layers.GlobalAveragePooling1D()(layers.MultiHeadAttention(2, 4)(x, x))

    def recurrent(kind, **kwargs):
        def build():
            i = keras.Input((6, 3))
            return i, getattr(layers, kind)(4, **kwargs)(i)

        return build

    def token_lstm():
        i = keras.Input((TOKENS,), dtype="int32")
        return i, layers.LSTM(8)(layers.Embedding(VOCAB, 8, mask_zero=True)(i))

    def uniform(shape, low=0.0, high=255.0):
        return lambda rng, n: rng.uniform(low, high, (n, *shape)).astype("float32")

    def normal(shape):
        return lambda rng, n: rng.normal(size=(n, *shape)).astype("float32")

    return [
        ("image CNN (Conv2D, 16x16x3)", cnn, uniform((16, 16, 3))),
        ("tabular MLP (Dense, 6 features)", mlp, normal((6,))),
        ("Conv1D audio (32 steps)", conv1d, normal((32, 1))),
        ("Embedding(50, 8) + pooling (int32 tokens)", embedding, _tokens),
        ("Embedding(mask_zero) + MultiHeadAttention", attention, _tokens),
        ("LSTM(4), 6 steps", recurrent("LSTM"), normal((6, 3))),
        ("GRU(4), 6 steps", recurrent("GRU"), normal((6, 3))),
        ("LSTM(4, unroll=True), 6 steps", recurrent("LSTM", unroll=True), normal((6, 3))),
        ("Embedding(mask_zero) + LSTM(8)", token_lstm, _tokens),
    ]


def _trained(build, data):
    keras.utils.set_random_seed(0)
    inputs, features = build()
    model = keras.Model(inputs, keras.layers.Dense(3)(features))
    rng = np.random.default_rng(0)
    x = data(rng, N)
    teacher = keras.Model(inputs, keras.layers.Dense(3)(features))  # a random task
    y = np.argmax(teacher.predict(x, verbose=0), -1)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=5, verbose=0)
    return model, x[: N // 2], x[N // 2 :]


def _cell(report):
    text = f"LiteRT {report.litert_agreement:.1%}"
    if report.quantization == "int8":
        if report.micro_error:
            lacks = ", ".join(report.micro_unsupported_ops)
            text += f", Micro: no ({'lacks ' + lacks if lacks else 'fails'})"
        else:
            text += f", Micro {report.micro_agreement:.1%} ({report.arena_bytes:,} B arena)"
    return f"{text}, {report.size_bytes / 1024:.1f} KiB"


def main():
    modes = " | ".join(m or "float32" for m in MODES)
    print(f"| student | file input (float32 / int8 file) | {modes} |")
    print("|---|---|" + "---|" * len(MODES))
    for name, build, data in _students():
        model, calibration, check = _trained(build, data)
        labels = np.argmax(model.predict(check, verbose=0), -1)
        cells, dtypes = [], []
        for mode in MODES:
            try:
                report = to_tflite(
                    model,
                    PATH,
                    quantization=mode,
                    representative_data=calibration,
                    check_data=(check, labels),
                    min_agreement=None,
                    verbose=0,
                )
            except ValueError as err:
                cells.append(f"refused: {str(err).split('. ')[0]}")
                continue
            cells.append(_cell(report))
            if mode in (None, "int8"):
                detail = Interpreter(model_path=PATH).get_input_details()[0]
                dtypes.append(detail["dtype"].__name__)
        dtype = " / ".join(dtypes)
        print(f"| {name} | {dtype} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
