"""Small image files and TFRecords written by the data tests."""

import numpy as np
import tensorflow as tf


def encoded(value, size=(20, 20), fmt="png"):
    """Encoded bytes of a ``size`` image filled with ``value`` (PNG or JPEG)."""
    image = np.full((*size, 3), value, np.uint8)
    encode = tf.io.encode_png if fmt == "png" else tf.io.encode_jpeg
    return encode(image).numpy()


def write_records(path, sizes, labels=None):
    """Writes one GZIP TFRecord record per entry of ``sizes`` (label = index by default)."""
    labels = range(len(sizes)) if labels is None else labels
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    with tf.io.TFRecordWriter(str(path), options) as writer:
        for i, (size, label) in enumerate(zip(sizes, labels, strict=True)):
            feature = {
                "image": tf.train.Feature(
                    bytes_list=tf.train.BytesList(value=[encoded(i % 256, size)])
                ),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
            }
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())


def write_folder(root, per_class=5, classes=("cat", "dog"), size=(20, 20)):
    """Writes ``root/<class>/<i>.png|jpg``, alternating PNG and JPEG; returns the paths."""
    paths = []
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            fmt = "png" if i % 2 == 0 else "jpg"
            path = root / name / f"{i}.{fmt}"
            path.write_bytes(encoded(10 * i + 100 * c, size, "png" if fmt == "png" else "jpeg"))
            paths.append(path)
    return paths
