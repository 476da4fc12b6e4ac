"""The offline data of the segmentation and sequence benchmarks: deterministic,
held-out parts built from held-out sources only, labels as documented."""

import numpy as np
import pytest

from keras_kd_cli.bench import segmentation_data as seg
from keras_kd_cli.bench import sequence_data as seq


@pytest.fixture(scope="module")
def images():
    return seg.load_images("sample", "validation", count=40)


def test_canvases_are_deterministic_and_labelled_class_plus_one(images):
    x, y = seg.build_canvases(*images, 12, seed=5)
    x2, y2 = seg.build_canvases(*images, 12, seed=5)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert x.shape == (12, 64, 64, 3) and x.dtype == np.uint8 and y.shape == (12, 64, 64)
    assert set(np.unique(y)) <= set(range(seg.NUM_CLASSES)) and (y == 0).any()
    present = set(np.unique(images[1]) + 1)
    assert set(np.unique(y)) - {0} <= present
    other, _ = seg.build_canvases(*images, 12, seed=6)
    assert not np.array_equal(x, other)


def test_an_object_is_pasted_where_its_label_is():
    images = np.zeros((2, 32, 32, 3), "uint8")
    images[0] = 200  # the object source; source 1 is the black background
    x, y = seg.build_canvases(images, np.array([4, 7]), 20, seed=0)
    objects = y > 0
    assert set(np.unique(y[objects])) <= {5, 8}
    assert (x[y == 5] == 200).all() and (x[~objects] <= 200).all()
    assert seg.ellipse_mask(20).mean() == pytest.approx(np.pi * 0.45**2, abs=0.03)


def test_canvas_refusals(images):
    with pytest.raises(ValueError, match=r"Received: images.shape=\(40, 32, 32\)"):
        seg.build_canvases(images[0][..., 0], images[1], 2, 0)
    with pytest.raises(ValueError, match="Received: count=0"):
        seg.build_canvases(*images, 0, 0)


def test_windows_predict_the_next_character_and_pad_each_text():
    x, y = seq.windows(["abcd", "xy"], 2)
    ids = {c: seq.VOCABULARY[c] for c in "abcdxy"}
    expected_x = [[ids["a"], ids["b"]], [ids["c"], 0], [ids["x"], 0]]
    expected_y = [[ids["b"], ids["c"]], [ids["d"], 0], [ids["y"], 0]]
    np.testing.assert_array_equal(x, expected_x)
    np.testing.assert_array_equal(y, expected_y)
    assert seq.encode("é\n~").tolist() == [seq.UNKNOWN, 2, seq.VOCAB_SIZE - 1]
    with pytest.raises(ValueError, match="Received: length=0"):
        seq.windows(["abc"], 0)


def test_corpus_is_read_from_the_standard_library_by_module():
    texts = seq.corpus(["colorsys", "textwrap"])
    assert texts == seq.corpus(["colorsys", "textwrap"])
    assert "RGB" in texts["colorsys"] and "common leading whitespace" in texts["textwrap"]
    assert seq.corpus_digest(texts) != seq.corpus_digest({"colorsys": texts["colorsys"]})
    assert not set(seq.TRAIN_MODULES) & set(seq.HELDOUT_MODULES)
    with pytest.raises(ValueError, match=r"modules in both: \['json'\]"):
        seq.sequence_splits(8, ["json", "csv"], ["json"])
