"""Hinton knowledge distillation (soft targets with a temperature)."""

import tensorflow as tf

from keras_kd._checks import positive_float
from keras_kd.losses._reduce import batch_mean


def kd_per_sample(teacher_logits, student_logits, temperature):
    """``T^2 * KL(p(t, T) || p(s, T))`` for each sample, shape (batch,)."""
    t = tf.cast(teacher_logits, tf.float32) / temperature
    s = tf.cast(student_logits, tf.float32) / temperature
    log_p_t = tf.nn.log_softmax(t, axis=-1)
    log_p_s = tf.nn.log_softmax(s, axis=-1)
    kl = tf.reduce_sum(tf.exp(log_p_t) * (log_p_t - log_p_s), axis=-1)
    return temperature**2 * kl


def kd_loss(teacher_logits, student_logits, temperature=4.0, sample_weight=None):
    """Hinton distillation loss between softened teacher and student predictions.

    ``p_i(z, T) = exp(z_i / T) / sum_j exp(z_j / T)`` and

    ``loss = T^2 * mean_b( sum_i p_i(t, T) * (log p_i(t, T) - log p_i(s, T)) )``.

    The ``T^2`` factor keeps the soft-target gradients on the same scale as
    the hard-target ones when T changes. Adding a constant to every teacher
    logit leaves the loss unchanged; it is 0 when the logits are equal.

    Args:
        teacher_logits: (batch, classes) teacher logits (not probabilities).
        student_logits: (batch, classes) student logits.
        temperature: T > 0.
        sample_weight: optional (batch,) weights; the result is
            ``sum(w * loss) / batch``.

    Returns:
        A float32 scalar.

    Reference:
        Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network",
        NIPS Deep Learning Workshop 2015.
    """
    temperature = positive_float("temperature", temperature)
    return batch_mean(kd_per_sample(teacher_logits, student_logits, temperature), sample_weight)
