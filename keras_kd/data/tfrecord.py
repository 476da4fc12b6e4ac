"""GZIP TFRecord image datasets (the format of the shared CIFAR-10 split).

Each record is a `tf.train.Example` with ``image`` (JPEG or PNG bytes) and
``label`` (int64).
"""

import os

import tensorflow as tf

_FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.int64),
}


def _decode(serialized):
    example = tf.io.parse_single_example(serialized, _FEATURES)
    image = tf.io.decode_image(example["image"], channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return tf.cast(image, tf.float32), tf.cast(example["label"], tf.int32)


def check_tfrecord(path):
    """Reads the first record of ``path`` and raises a clear error if it fails."""
    if not os.path.isfile(path):
        raise ValueError(f"`path` must be an existing TFRecord file. Received: path={path!r}")
    try:
        for record in tf.data.TFRecordDataset(path, compression_type="GZIP").take(1):
            _decode(record)
    except (tf.errors.OpError, ValueError) as err:
        raise ValueError(
            "`path` must be a GZIP TFRecord of tf.train.Example records with an "
            f"'image' (encoded bytes) and a 'label' (int64) feature. Received: "
            f"path={path!r} ({type(err).__name__}: {str(err).splitlines()[0]})"
        ) from None


def load_tfrecord(path, start=0, count=None):
    """Loads ``(image, label)`` pairs from a GZIP TFRecord file.

    Args:
        path: the ``.tfrecord.gz`` file.
        start: index of the first record to read.
        count: number of records to read (all remaining when None).

    Returns:
        A `tf.data.Dataset` of ``(float32 image in 0..255, int32 label)``.
    """
    check_tfrecord(path)
    if start < 0 or (count is not None and count <= 0):
        raise ValueError(
            f"`start` must be >= 0 and `count` None or > 0. Received: start={start}, count={count}"
        )
    ds = tf.data.TFRecordDataset(path, compression_type="GZIP").skip(start)
    if count is not None:
        ds = ds.take(count)
    return ds.map(_decode, num_parallel_calls=tf.data.AUTOTUNE)
