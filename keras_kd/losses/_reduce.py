"""Batch reduction shared by the loss functions."""

import tensorflow as tf


def batch_mean(per_sample, sample_weight=None):
    """Mean of a per-sample loss over the batch, optionally sample-weighted.

    With weights the result is ``sum(w_b * l_b) / B``, the reduction Keras
    losses use (``sum_over_batch_size``), so a weight of 0 removes a sample and
    all-ones weights equal the plain mean.
    """
    per_sample = tf.cast(per_sample, tf.float32)
    if sample_weight is None:
        return tf.reduce_mean(per_sample)
    weight = tf.reshape(tf.cast(sample_weight, tf.float32), [-1])
    return tf.reduce_sum(per_sample * weight) / tf.cast(tf.size(per_sample), tf.float32)


def flatten_per_sample(x):
    """Reshapes ``x`` to (batch, features) in float32."""
    x = tf.cast(x, tf.float32)
    return tf.reshape(x, [tf.shape(x)[0], -1])
