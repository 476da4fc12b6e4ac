"""The guides' code runs as written (docs/guides/*.md), so they cannot rot."""

import pathlib
import re
import textwrap

import numpy as np
import pytest

from keras_kd import data, models, pretrained

GUIDES = pathlib.Path(__file__).resolve().parents[1] / "docs" / "guides"


def _python_blocks(page):
    """The page's python code blocks, in order (indented ones in lists included)."""
    blocks = re.findall(r"^( *)```python\n(.*?)^\1```", (GUIDES / page).read_text(), re.M | re.S)
    return [textwrap.dedent(code) for _, code in blocks]


@pytest.fixture(scope="module")
def own_distiller(tmp_path_factory, request):
    """Runs every block of the guide, in order, on the sample and the shipped teacher."""
    folder = tmp_path_factory.mktemp("guide")
    namespace = {
        "student": models.mlperf_tiny_resnet8(),
        "teacher": pretrained.load_teacher(),
        "train": data.load("sample", "train").take(64).batch(32),
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        for block in _python_blocks("write-your-own-distiller.md"):
            exec(compile(block, "write-your-own-distiller.md", "exec"), namespace)
    return namespace, folder


def _numpy_sp(t, s):
    def similarity(f):
        q = f.reshape(len(f), -1).astype("float64")
        g = q @ q.T
        return g / np.linalg.norm(g, axis=1, keepdims=True)

    return np.sum((similarity(t) - similarity(s)) ** 2) / len(s) ** 2


def test_the_guides_loss_is_the_formula_and_has_its_invariants(own_distiller):
    loss = own_distiller[0]["similarity_preserving_loss"]
    rng = np.random.default_rng(0)
    t, s = rng.normal(size=(6, 4, 4, 8)), rng.normal(size=(6, 2, 2, 3))
    assert float(loss(t, s)) == pytest.approx(_numpy_sp(t, s), rel=1e-5)
    assert float(loss(t, t)) == pytest.approx(0.0, abs=1e-6)
    assert float(loss(t, 5.0 * s)) == pytest.approx(float(loss(t, s)), rel=1e-5)


def test_the_guides_distiller_trains_logs_saves_and_loads(own_distiller):
    namespace, folder = own_distiller
    history, sp, restored = namespace["history"], namespace["sp"], namespace["restored"]
    assert sorted(history.history) == ["accuracy", "kd_loss", "loss", "sp_loss", "task_loss"]
    assert all(np.isfinite(history.history["sp_loss"]))
    assert type(restored).__name__ == "SimilarityPreserving"
    assert restored.feature_weight == sp.feature_weight == 3000.0
    assert (folder / "student.keras").exists()
    assert [t.name for t in namespace["trial"].all_terms] == ["task", "kd", "sp"]


def _image_folder(root, classes=3, per_class=12):
    """Random PNG images of two sizes (the guide resizes them) in class folders."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            size = (100, 120) if i % 2 else (96, 96)
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            (root / f"class{c}" / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())


@pytest.mark.slow
def test_your_model_your_data_runs_as_written(tmp_path, monkeypatch):
    _image_folder(tmp_path / "my-images")
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in _python_blocks("your-model-your-data.md"):
        block = re.sub(r"epochs=\d+", "epochs=1", block)
        exec(compile(block, "your-model-your-data.md", "exec"), namespace)
    assert namespace["classes"] == ["class0", "class1", "class2"]
    assert (tmp_path / "mine.tfrecord.gz").exists() and (tmp_path / "student.tflite").exists()
    assert namespace["report"].micro_error is None
    assert [t.name for t in namespace["combo"].all_terms] == ["task", "kd", "at", "rkd"]
