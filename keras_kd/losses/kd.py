"""Hinton knowledge distillation (soft targets with a temperature)."""

import tensorflow as tf

from keras_kd._checks import temperature_value
from keras_kd.losses._reduce import batch_mean


def _two_class(logits):
    if logits.shape[-1] != 1:
        return logits
    return tf.concat([tf.zeros_like(logits), logits], axis=-1)


def kd_per_sample(teacher_logits, student_logits, temperature):
    """``T^2 * KL(p(t, T) || p(s, T))`` for each sample, shape (batch,).

    A single logit z (a binary classifier) is the two-class logit pair
    ``(0, z)``: softmax over it is ``(1 - sigmoid(z), sigmoid(z))``, so the
    term is the KL between the softened Bernoulli distributions.
    """
    t = _two_class(tf.cast(teacher_logits, tf.float32)) / temperature
    s = _two_class(tf.cast(student_logits, tf.float32)) / temperature
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
        teacher_logits: (batch, classes) teacher logits (not probabilities);
            (batch, 1) for a binary classifier's sigmoid logit.
        student_logits: student logits of the same shape.
        temperature: T in (0, 1000].
        sample_weight: optional (batch,) weights; the result is
            ``sum(w * loss) / batch``.

    Returns:
        A float32 scalar.

    Reference:
        Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network",
        NIPS Deep Learning Workshop 2015.
    """
    temperature = temperature_value("temperature", temperature)
    return batch_mean(kd_per_sample(teacher_logits, student_logits, temperature), sample_weight)
