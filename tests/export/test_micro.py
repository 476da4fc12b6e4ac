"""The TFLite-Micro check of tiny int8 models: the arena it reports is the one that runs."""

import keras
import numpy as np
import pytest
from tflite_micro import runtime

from keras_kd.export import to_tflite
from keras_kd.export.micro import ARENA_ALIGNMENT_MARGIN


def _tiny_cnn(filters):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3)(x), name=f"tiny{filters}")


def _allocates(model_bytes, arena_size):
    try:
        runtime.Interpreter.from_bytes(model_bytes, arena_size=arena_size)
    except RuntimeError:
        return False
    return True


@pytest.mark.parametrize("filters", [4, 8])
def test_tiny_int8_models_run_in_the_arena_reported(tmp_path, filters):
    # 4 filters used to fail with "TFLM failed to allocate tensors": the arena the
    # allocation recorder reports leaves out what kernels borrow while preparing.
    model = _tiny_cnn(filters)
    x = np.random.default_rng(0).uniform(0, 255, (24, 8, 8, 3)).astype("float32")
    y = np.argmax(model.predict(x, verbose=0), -1)
    path = tmp_path / "m.tflite"
    report = to_tflite(model, path, quantization="int8", representative_data=x, check_data=(x, y))
    assert report.micro_error is None
    assert report.micro_agreement >= 0.9
    model_bytes = path.read_bytes()
    assert _allocates(model_bytes, report.arena_bytes)
    assert not _allocates(model_bytes, report.arena_bytes - ARENA_ALIGNMENT_MARGIN - 64)


_SLOW_WORKER = """
import os, sys, time
model, inputs, out, arena, margin, progress = sys.argv[1:7]
for done in range(1, {steps} + 1):
    time.sleep({pause})
    if {report}:
        with open(progress + ".tmp", "w") as f:
            f.write(str(done))
        os.replace(progress + ".tmp", progress)
import numpy as np
np.savez(out, outputs=np.zeros(({steps}, 3), np.int8), arena=np.int64(1024))
"""


def _fake_worker(tmp_path, monkeypatch, **kwargs):
    from keras_kd._progress import Progress
    from keras_kd.export import micro

    worker = tmp_path / "worker.py"
    worker.write_text(_SLOW_WORKER.format(**kwargs))
    monkeypatch.setattr(micro, "WORKER", str(worker))
    monkeypatch.setattr(micro, "STALL_SECONDS", 1.0)
    folder = tmp_path / "run"
    folder.mkdir()
    progress = Progress("TFLite-Micro check", kwargs["steps"], 0, "image")
    out = str(folder / "out.npz")
    return micro._run_worker("m", "i", out, 1024, progress)


def test_a_slow_micro_check_that_keeps_counting_is_not_stopped(tmp_path, monkeypatch):
    # 5 x 0.4 s = 2 s in all, past the 1 s stall limit, but never 1 s without progress.
    outputs, arena = _fake_worker(tmp_path, monkeypatch, steps=5, pause=0.4, report=True)
    assert outputs.shape == (5, 3) and arena == 1024


def test_a_micro_check_that_stops_counting_is_stopped(tmp_path, monkeypatch):
    import subprocess

    with pytest.raises(subprocess.TimeoutExpired):
        _fake_worker(tmp_path, monkeypatch, steps=2, pause=1.5, report=False)
