"""How cached teacher outputs travel in a batch (see `keras_kd.cache`)."""

import tensorflow as tf

CACHE_KEY = "keras_kd_teacher"
LABELS_KEY = "labels"
FINGERPRINT_KEY = "fingerprint"
MISMATCH_MARKER = "keras_kd: teacher cache mismatch"


def fingerprint(x):
    """Per-sample position-weighted sums of the input, float32, shape (batch, 3).

    A plain sum would not change under a flip, a crop-and-pad or any other
    permutation of pixels; weighting by position (a ramp and a fixed
    pseudo-random pattern) makes such augmentations visible.
    """
    parts = tf.nest.flatten(x)  # one tensor, or the inputs of a multi-input model
    flat = tf.concat(
        [tf.reshape(tf.cast(p, tf.float32), [tf.shape(p)[0], -1]) for p in parts], axis=1
    )
    size = tf.shape(flat)[1]
    index = tf.range(size)
    ramp = tf.cast(index, tf.float32) / tf.cast(size, tf.float32)
    pattern = tf.cast((index * 7919) % 1009, tf.float32) / 1009.0
    return tf.stack(
        [
            tf.reduce_sum(flat, -1),
            tf.reduce_sum(flat * ramp, -1),
            tf.reduce_sum(flat * pattern, -1),
        ],
        axis=-1,
    )


def mismatch_fraction(x, expected):
    """Fraction of samples whose input differs from its cached fingerprint."""
    close = tf.abs(fingerprint(x) - expected) <= 1e-4 * (tf.abs(expected) + 1.0)
    return 1.0 - tf.reduce_mean(tf.cast(tf.reduce_all(close, axis=-1), tf.float32))


def split_cached(y):
    """``(labels, cached teacher outputs or None, fingerprints or None)``."""
    if isinstance(y, dict) and CACHE_KEY in y:
        return y[LABELS_KEY], y[CACHE_KEY], y[FINGERPRINT_KEY]
    return y, None, None
