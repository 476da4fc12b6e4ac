"""GZIP TFRecord image datasets (the format of the shared CIFAR-10 split).

Each record is a `tf.train.Example` with ``image`` (JPEG, PNG, GIF or BMP
bytes, any size) and ``label`` (int64 class index).
"""

import os

import tensorflow as tf

from keras_kd.data._images import check_image_size, resize
from keras_kd.data.splits import split_range

_FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.int64),
}
_COUNT_BATCH = 4096


def _parse(serialized):
    example = tf.io.parse_single_example(serialized, _FEATURES)
    image = tf.io.decode_image(example["image"], channels=3, expand_animations=False)
    return tf.cast(image, tf.float32), tf.cast(example["label"], tf.int32)


def check_tfrecord(path):
    """Reads the first record of ``path``; returns its image's (height, width).

    Raises a `ValueError` naming the file and the expected format if it fails.
    """
    if not os.path.isfile(path):
        raise ValueError(f"`path` must be an existing TFRecord file. Received: path={path!r}")
    try:
        for record in tf.data.TFRecordDataset(path, compression_type="GZIP").take(1):
            image, _ = _parse(record)
            return tuple(int(n) for n in image.shape[:2])
    except (tf.errors.OpError, ValueError) as err:
        raise ValueError(
            "`path` must be a GZIP TFRecord of tf.train.Example records with an "
            f"'image' (encoded bytes) and a 'label' (int64) feature. Received: "
            f"path={path!r} ({type(err).__name__}: {str(err).splitlines()[0]})"
        ) from None
    raise ValueError(f"`path` must hold at least one record. Received: path={path!r} (empty)")


def count_records(path):
    """Counts the records of a GZIP TFRecord file (reads it once, without decoding)."""
    records = tf.data.TFRecordDataset(path, compression_type="GZIP").batch(_COUNT_BATCH)
    try:
        return int(records.reduce(tf.constant(0, tf.int64), lambda n, b: n + tf.size(b, tf.int64)))
    except tf.errors.OpError as err:
        raise ValueError(
            "`path` could not be read to its end (truncated or corrupt GZIP "
            f"TFRecord). Received: path={path!r} ({type(err).__name__})"
        ) from None


def load_tfrecord(path, start=0, count=None, image_size=None):
    """Loads ``(image, label)`` pairs from a GZIP TFRecord file.

    Args:
        path: the ``.tfrecord.gz`` file.
        start: index of the first record to read.
        count: number of records to read (all remaining when None).
        image_size: ``(height, width)`` to resize every image to. None keeps
            the stored size, which must then be the same for every record
            (reading a record of another size raises an error naming
            ``image_size``).

    Returns:
        A `tf.data.Dataset` of ``(float32 image in 0..255, int32 label)``.

    Example:
        ```python
        ds = load_tfrecord("flowers.tfrecord.gz", image_size=(64, 64))
        ```
    """
    first_size = check_tfrecord(path)
    image_size = check_image_size(image_size)
    if start < 0 or (count is not None and count <= 0):
        raise ValueError(
            f"`start` must be >= 0 and `count` None or > 0. Received: start={start}, count={count}"
        )
    message = (
        f"The images in {path} differ in size (the first record's is "
        f"{first_size[0]}x{first_size[1]}). Pass image_size=(height, width) to "
        "resize them all to one size."
    )

    def decode(serialized):
        image, label = _parse(serialized)
        if image_size is not None:
            return resize(image, image_size), label
        check = tf.debugging.assert_equal(tf.shape(image)[:2], first_size, message=message)
        with tf.control_dependencies([check]):
            image = tf.identity(image)
        image.set_shape([*first_size, 3])
        return image, label

    ds = tf.data.TFRecordDataset(path, compression_type="GZIP").skip(start)
    if count is not None:
        ds = ds.take(count)
    return ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)


def load_tfrecord_split(path, split="all", validation_split=None, image_size=None):
    """Loads the train, validation or whole part of a GZIP TFRecord file.

    Args:
        path: the ``.tfrecord.gz`` file, records in a shuffled order.
        split: ``"train"``, ``"validation"`` (the last ``validation_split`` of
            the records, in file order) or ``"all"``.
        validation_split: fraction in [0, 1); None means 0.1, which on the
            shared 50,000-record CIFAR-10 file gives 45,000 + 5,000.
        image_size: as in `load_tfrecord`.

    Returns:
        A `tf.data.Dataset` of ``(image, label)`` with a known length.

    Example:
        ```python
        val = load_tfrecord_split("mine.tfrecord.gz", "validation", 0.2)
        ```
    """
    check_tfrecord(path)
    start, count = split_range(count_records(path), split, validation_split, f"path={path!r}")
    ds = load_tfrecord(path, start=start, count=count, image_size=image_size)
    return ds.apply(tf.data.experimental.assert_cardinality(count))
