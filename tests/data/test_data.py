import inspect
import re

import numpy as np
import pytest
import tensorflow as tf

from keras_kd import data
from tests.data.writers import write_records


def test_embedded_sample_is_balanced_and_in_the_documented_format():
    train = list(data.load("sample", "train").as_numpy_iterator())
    val = list(data.load("sample", "validation").as_numpy_iterator())
    assert (len(train), len(val)) == (5000, 1000)
    image, label = train[0]
    assert image.shape == (32, 32, 3) and image.dtype == np.float32 and 0 <= image.max() <= 255
    counts = np.bincount([y for _, y in train], minlength=10)
    assert counts.min() > 400


def test_tfrecord_start_and_count(tmp_path):
    path = tmp_path / "d.tfrecord.gz"
    write_records(path, [(32, 32)] * 12)
    labels = [int(y) for _, y in data.load_tfrecord(str(path), start=3, count=4)]
    assert labels == [3, 4, 5, 6]


def test_image_folder_layout(tmp_path):
    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        for i in range(3):
            image = np.full((8, 8, 3), 40 * i, np.uint8)
            tf.io.write_file(str(tmp_path / name / f"{i}.png"), tf.io.encode_png(image))
    ds, classes = data.load_image_folder(str(tmp_path), image_size=(8, 8))
    assert classes == ["cat", "dog"]
    labels = sorted(int(y) for _, y in ds)
    assert labels == [0, 0, 0, 1, 1, 1]


def test_load_tfds_reads_a_prepared_local_data_dir(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=5):
        ds = data.load("tfds:cifar10", split="train", data_dir=str(tmp_path))
        image, label = next(iter(ds))
    assert image.dtype == tf.float32 and image.shape == (32, 32, 3)
    assert label.dtype == tf.int32


@pytest.mark.parametrize(
    "source,match",
    [
        ("", "source"),
        ("/no/such/path.tfrecord.gz", "no such path"),
        (None, "source"),
    ],
)
def test_bad_sources_are_rejected(source, match):
    with pytest.raises(ValueError, match=match):
        data.load(source)


def test_corrupt_tfrecord_is_rejected(tmp_path):
    path = tmp_path / "bad.tfrecord.gz"
    path.write_bytes(b"not a tfrecord at all")
    with pytest.raises(ValueError, match="GZIP TFRecord.*Received: path="):
        data.load(str(path))


def test_bad_split_is_rejected():
    with pytest.raises(ValueError, match="split.*Received: split='test'"):
        data.load("sample", "test")


def test_unknown_tfds_name_is_refused_without_a_download(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(ValueError) as info:
        data.load("tfds:no_such_dataset_xyz", data_dir=str(tmp_path))
    message = str(info.value)
    assert "list_builders" in message and "download" not in message
    assert message.endswith("Received: source='tfds:no_such_dataset_xyz'")
    assert not any(tmp_path.iterdir())


def test_unprepared_tfds_advice_names_arguments_that_load_accepts(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(ValueError, match="Received: source='tfds:mnist', data_dir=") as info:
        data.load("tfds:mnist", data_dir=str(tmp_path))
    advised = set(re.findall(r"pass `?(\w+)=", str(info.value)))
    assert "data_dir" in advised
    assert advised <= set(inspect.signature(data.load).parameters)
    assert not any(tmp_path.iterdir())  # nothing was downloaded or prepared
