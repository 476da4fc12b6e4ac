"""An int8 file on which LiteRT aborts the process is refused, the caller's
process alive and no file written."""

import os
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_kd.export import litert, to_tflite
from tests.helpers import tiny_data, trained_tiny_model

# The MLKD sample row's student before its levels were scaled: it diverged in its
# first epoch (BatchNorm moving variances up to 7e8), and the LiteRT check of its
# int8 file aborted the benchmark's process (SIGABRT in allocate_tensors).
DIVERGED = Path(__file__).parent / "data" / "diverged_resnet8.keras"


def test_a_diverged_student_is_refused_without_ending_the_process(tmp_path):
    model = keras.saving.load_model(DIVERGED)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (64, 32, 32, 3)).astype("float32")
    path = tmp_path / "student-int8.tflite"
    with pytest.raises(ValueError, match=r"LiteRT could not run.*signal 6.*not written.*diverged"):
        to_tflite(model, path, quantization="int8", representative_data=images, verbose=0)
    assert not path.exists() and os.listdir(tmp_path) == []
    # The same model still exports as float16 (no int8 scales).
    report = to_tflite(model, tmp_path / "f16.tflite", quantization="float16", verbose=0)
    assert report.size_bytes > 0


def test_the_child_process_is_what_would_have_aborted(tmp_path, monkeypatch):
    model, x, y = trained_tiny_model()
    monkeypatch.setattr(
        litert, "probe_command", lambda path: ["python", "-c", "import os; os.abort()"]
    )
    path = tmp_path / "student.tflite"
    with pytest.raises(ValueError, match="signal 6"):
        to_tflite(model, path, quantization="int8", representative_data=x, verbose=0)
    assert not path.exists()
    # Float files are not probed: LiteRT runs them here.
    to_tflite(model, path, check_data=tiny_data(16), verbose=0)
    assert path.exists()
