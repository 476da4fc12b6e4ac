"""Writes the embedded CIFAR-10 sample from the shared split.

Run: ``python -m keras_kd.data.make_sample ../shared/data/cifar10/cifar10-train.tfrecord.gz``

Copies the first 5,000 records of the training part and the first 1,000
records of the validation part (records 45,000..45,999) byte for byte.
"""

import argparse
import os

import tensorflow as tf

from keras_kd.data.cifar10 import SAMPLE_DIR, SAMPLE_FILES, SAMPLE_SIZES, SHARED_TRAIN_SIZE


def write_sample(source, out_dir=SAMPLE_DIR):
    """Copies the sample records from ``source`` into ``out_dir``."""
    records = tf.data.TFRecordDataset(source, compression_type="GZIP")
    starts = {"train": 0, "validation": SHARED_TRAIN_SIZE}
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    for split, size in SAMPLE_SIZES.items():
        path = os.path.join(out_dir, SAMPLE_FILES[split])
        with tf.io.TFRecordWriter(path + ".tmp", options) as writer:
            for record in records.skip(starts[split]).take(size):
                writer.write(record.numpy())
        os.replace(path + ".tmp", path)
        print(f"{path}: {size} records, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="the shared cifar10-train.tfrecord.gz")
    write_sample(parser.parse_args().source)
