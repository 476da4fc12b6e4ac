"""`.npz` sources: any task's arrays, split like files (the last 10% validate)."""

import numpy as np
import pytest

from keras_kd import data


def _save(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def test_masks_split_into_train_and_validation_rows(tmp_path):
    x = np.arange(20 * 4 * 4 * 3, dtype="float64").reshape(20, 4, 4, 3)
    y = np.arange(20 * 16).reshape(20, 4, 4) % 3
    path = _save(tmp_path / "masks.npz", x=x, y=y)
    train = list(data.load(path, "train").as_numpy_iterator())
    validation = list(data.load(path, "validation", validation_split=0.25).as_numpy_iterator())
    assert len(train) == 18 and len(validation) == 5
    np.testing.assert_array_equal(train[3][1], y[3])
    np.testing.assert_array_equal(validation[0][0], x[15])
    assert train[0][0].dtype == np.float32 and train[0][1].dtype == y.dtype


def test_tokens_keep_their_integer_type_and_weights_come_third(tmp_path):
    tokens = np.array([[3, 4, 0], [5, 0, 0]] * 5, dtype="int32")
    path = _save(tmp_path / "seq.npz", x=tokens, y=tokens, sample_weight=(tokens > 0) * 1.0)
    x, y, weight = next(data.load(path, "all").as_numpy_iterator())
    assert x.dtype == np.int32 and weight.tolist() == [1.0, 1.0, 0.0]


@pytest.mark.parametrize(
    "arrays,match",
    [
        ({"x": np.zeros((4, 2))}, r"arrays 'x' and 'y'.*with arrays \['x'\]"),
        (
            {"x": np.zeros((4, 2)), "y": np.zeros(4), "w": np.ones(4)},
            r"optionally 'sample_weight'.*\['w', 'x', 'y'\]",
        ),
        ({"x": np.zeros((4, 2)), "y": np.zeros(3)}, r"same number.*'x': 4, 'y': 3"),
        (
            {"x": np.zeros((4, 6)), "y": np.zeros((4, 6)), "sample_weight": np.ones((4, 5))},
            r"labels' leading shape.*y \(4, 6\) and sample_weight \(4, 5\)",
        ),
        (
            {"x": np.zeros((4, 6)), "y": np.zeros((4, 6)), "sample_weight": -np.ones(4)},
            r"non-negative.*4 negative and 0 NaN",
        ),
    ],
)
def test_a_file_of_other_arrays_is_refused_naming_them(tmp_path, arrays, match):
    path = _save(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=match):
        data.load(path)


def test_a_file_that_is_not_an_archive_and_a_resize_are_refused(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_text("not a zip")
    with pytest.raises(ValueError, match=r"\.npz archive.*Received: source="):
        data.load(str(path))
    good = _save(tmp_path / "good.npz", x=np.zeros((4, 2)), y=np.zeros(4))
    with pytest.raises(ValueError, match=r"image_size.*not to .npz arrays"):
        data.load(good, image_size=(8, 8))
