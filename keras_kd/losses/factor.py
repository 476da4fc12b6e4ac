"""Factor transfer between the paraphraser's and the translator's factors."""

import tensorflow as tf

from keras_kd._checks import positive_float
from keras_kd.losses._reduce import batch_mean, flatten_per_sample


def factor_transfer_per_sample(teacher_factor, student_factor, p=1.0):
    """Mean over elements of ``|F_S/||F_S|| - F_T/||F_T|||^p``, shape (batch,)."""
    t = tf.math.l2_normalize(flatten_per_sample(teacher_factor), axis=-1)
    s = tf.math.l2_normalize(flatten_per_sample(student_factor), axis=-1)
    return tf.reduce_mean(tf.pow(tf.abs(s - t), p), axis=-1)


def factor_transfer_loss(teacher_factor, student_factor, p=1, sample_weight=None):
    """Factor transfer loss between normalized factors.

    ``loss = mean over all elements of |F_S/||F_S||_2 - F_T/||F_T||_2|^p``,
    each factor flattened and l2-normalized per sample. Invariant to a
    positive scaling of either factor.

    Args:
        teacher_factor: the paraphraser's encoder output (batch, H, W, k*C).
        student_factor: the translator's output, same shape.
        p: 1 (the paper's choice) or 2.
        sample_weight: optional (batch,) weights.

    Returns:
        A float32 scalar.

    Reference:
        Kim, Park, Kwak, "Paraphrasing Complex Network: Network Compression
        via Factor Transfer", NeurIPS 2018.
    """
    p = positive_float("p", p)
    return batch_mean(factor_transfer_per_sample(teacher_factor, student_factor, p), sample_weight)
