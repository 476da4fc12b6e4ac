import numpy as np
import pytest
import tensorflow as tf

from keras_kd import data
from tests.data.writers import write_records

SHARED_CIFAR10 = "/work/shared/data/cifar10/cifar10-train.tfrecord.gz"


@pytest.fixture
def own_file(tmp_path):
    path = tmp_path / "own.tfrecord.gz"
    write_records(path, [(20, 20)] * 100)
    return str(path)


def _labels(ds):
    return [int(y) for _, y in ds]


def test_a_100_record_file_splits_90_10_in_file_order(own_file):
    # Used to fail: "expected to contain 45000 elements" (the CIFAR layout for any file).
    train, val = data.load(own_file, "train"), data.load(own_file, "validation")
    assert (int(train.cardinality()), int(val.cardinality())) == (90, 10)
    assert _labels(train) == list(range(90)) and _labels(val) == list(range(90, 100))
    image, label = next(iter(val))
    assert image.shape == (20, 20, 3) and image.dtype == tf.float32 and label.dtype == tf.int32


def test_validation_split_and_all(own_file):
    assert len(_labels(data.load(own_file, "validation", validation_split=0.25))) == 25
    assert len(_labels(data.load(own_file, "train", validation_split=0.25))) == 75
    assert _labels(data.load(own_file, "all")) == list(range(100))


def test_image_size_resizes_records(own_file):
    image, _ = next(iter(data.load(own_file, image_size=(8, 12))))
    assert image.shape == (8, 12, 3)


def test_records_of_different_sizes_ask_for_image_size(tmp_path):
    path = str(tmp_path / "mixed.tfrecord.gz")
    write_records(path, [(20, 20), (20, 20), (24, 24)])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Pass image_size=\(height, width\)"):
        list(data.load(path, "all"))
    images = [x.shape for x, _ in data.load(path, "all", image_size=(16, 16))]
    assert images == [(16, 16, 3)] * 3


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"validation_split": 1.0}, "Received: validation_split=1.0"),
        ({"validation_split": -0.1}, "Received: validation_split=-0.1"),
        ({"validation_split": "0.1"}, "Received: validation_split='0.1'"),
        ({"validation_split": True}, "Received: validation_split=True"),
        ({"split": "test"}, "Received: split='test'"),
        ({"split": "validation", "validation_split": 0}, "`validation_split`.*Received: split="),
        ({"image_size": (0, 5)}, r"Received: image_size=\(0, 5\)"),
        ({"image_size": 32}, "Received: image_size=32"),
    ],
)
def test_bad_split_and_size_arguments_are_refused(own_file, kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load(own_file, **kwargs)


def test_validation_split_is_refused_for_named_sources():
    with pytest.raises(ValueError, match="Received: source='sample', validation_split=0.2"):
        data.load("sample", validation_split=0.2)


def test_image_size_applies_to_the_sample():
    image, _ = next(iter(data.load("sample", "validation", image_size=(16, 16))))
    assert image.shape == (16, 16, 3)


def test_split_sizes_use_exact_decimal_fractions():
    from keras_kd.data.splits import split_range

    assert split_range(50_000, "validation", 0.1, "f") == (45_000, 5_000)
    assert split_range(50_000, "train", None, "f") == (0, 45_000)
    assert split_range(100, "validation", 0.29, "f") == (71, 29)


def test_cifar10_split_refuses_another_file_by_name(own_file):
    with pytest.raises(ValueError, match=r"validation_split=.*Received: path=.*\(100 records\)"):
        data.load_cifar10_split(own_file, "validation")


@pytest.mark.skipif(not tf.io.gfile.exists(SHARED_CIFAR10), reason="shared CIFAR-10 file absent")
def test_shared_cifar10_file_keeps_its_45000_5000_layout():
    train, val = data.load(SHARED_CIFAR10, "train"), data.load(SHARED_CIFAR10, "validation")
    assert (int(train.cardinality()), int(val.cardinality())) == (45_000, 5_000)
    first_val = next(iter(val))
    record_45000 = next(iter(data.load_tfrecord(SHARED_CIFAR10, start=45_000, count=1)))
    np.testing.assert_array_equal(first_val[0], record_45000[0])
    assert int(first_val[1]) == int(record_45000[1])
