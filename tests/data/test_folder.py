import numpy as np
import pytest

from keras_kd import data
from tests.data.writers import encoded, write_folder


def _load_all(root, **kwargs):
    return list(data.load(str(root), **kwargs).as_numpy_iterator())


def test_folder_images_keep_their_size_unless_image_size_is_given(tmp_path):
    # Used to be resized to 32x32 without being asked.
    write_folder(tmp_path, per_class=5, size=(20, 20))
    (tmp_path / "cat" / "notes.txt").write_text("not an image, skipped")
    train = _load_all(tmp_path)
    assert len(train) == 9 and {x.shape for x, _ in train} == {(20, 20, 3)}
    resized = _load_all(tmp_path, split="all", image_size=(8, 8))
    assert len(resized) == 10 and {x.shape for x, _ in resized} == {(8, 8, 3)}
    assert sorted(int(y) for _, y in resized) == [0] * 5 + [1] * 5


def test_corrupt_images_are_named_with_what_to_do(tmp_path):
    write_folder(tmp_path, per_class=3)
    truncated = tmp_path / "cat" / "truncated.png"
    truncated.write_bytes(encoded(7, (20, 20), "png")[:60])
    garbage = tmp_path / "dog" / "garbage.jpg"
    garbage.write_bytes(b"this is not a JPEG")
    with pytest.raises(ValueError) as info:
        _load_all(tmp_path)  # used to fail mid-iteration without naming the file
    message = str(info.value)
    assert str(truncated) in message and str(garbage) in message
    assert "2 file(s)" in message and "Delete or re-save" in message
    assert message.endswith(f"Received: root={str(tmp_path)!r}")


def test_images_of_different_sizes_ask_for_image_size(tmp_path):
    write_folder(tmp_path / "a", per_class=2, size=(20, 20))
    write_folder(tmp_path / "a", per_class=1, classes=("bird",), size=(24, 24))
    with pytest.raises(ValueError, match=r"Pass image_size=.*Received: image_size=None"):
        data.load(str(tmp_path / "a"), "all")
    images = _load_all(tmp_path / "a", split="all", image_size=(16, 16))
    assert len(images) == 5 and {x.shape for x, _ in images} == {(16, 16, 3)}


def test_folder_train_and_validation_are_disjoint_and_seeded(tmp_path):
    write_folder(tmp_path, per_class=10)
    train = _load_all(tmp_path, validation_split=0.2)
    val = _load_all(tmp_path, split="validation", validation_split=0.2)
    assert (len(train), len(val)) == (16, 4)

    def keys(pairs):
        return [(float(x[0, 0, 0]), int(y)) for x, y in pairs]

    assert not set(keys(train)) & set(keys(val))
    assert len(set(keys(train)) | set(keys(val))) == 20
    assert keys(_load_all(tmp_path, validation_split=0.2)) == keys(train)


def test_folder_without_images_is_refused(tmp_path):
    (tmp_path / "cat").mkdir()
    with pytest.raises(ValueError, match="image files.*Received: root="):
        data.load(str(tmp_path))


def test_image_folder_returns_class_names(tmp_path):
    write_folder(tmp_path, per_class=2, classes=("b", "a"))
    ds, classes = data.load_image_folder(str(tmp_path))
    assert classes == ["a", "b"] and len(list(ds)) == 4
    assert np.asarray([x for x, _ in ds]).shape == (4, 20, 20, 3)
