"""Hinton knowledge distillation (soft targets with a temperature)."""

import tensorflow as tf

from keras_kd._checks import temperature_value
from keras_kd.losses._reduce import batch_mean


def _two_class(logits):
    if logits.shape[-1] != 1:
        return logits
    return tf.concat([tf.zeros_like(logits), logits], axis=-1)


def standardize_logits(logits):
    """Each sample's logits z-scored: ``(z - mean(z)) / (std(z) + 1e-7)``.

    ``std`` is the sample standard deviation (divided by C - 1), as in the
    authors' code (``torch.std``). The result is invariant to a shift and a
    positive scaling of the logits.

    Args:
        logits: (batch, C) logits, C >= 2.

    Returns:
        A float32 (batch, C) tensor: each row has mean 0 and standard deviation 1.

    Example:
        ```python
        z = standardize_logits(teacher(images))
        kd_loss(teacher(images), student(images), standardize=True)  # the same inside
        ```

    Reference:
        Sun, Ren, Li, Wang, Cao, "Logit Standardization in Knowledge
        Distillation", CVPR 2024.
    """
    logits = tf.cast(logits, tf.float32)
    mean = tf.reduce_mean(logits, axis=-1, keepdims=True)
    classes = tf.cast(tf.shape(logits)[-1], tf.float32)
    variance = tf.reduce_sum(tf.square(logits - mean), axis=-1, keepdims=True) / (classes - 1.0)
    return (logits - mean) / (tf.sqrt(variance) + 1e-7)


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


def kd_loss(teacher_logits, student_logits, temperature=4.0, sample_weight=None, standardize=False):
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
        standardize: z-score each sample's logits first (`standardize_logits`,
            Sun et al., CVPR 2024), so the student matches the teacher's logit
            relations rather than their range (for C > 1 classes).

    Returns:
        A float32 scalar.

    Example:
        ```python
        teacher_logits = teacher(images, training=False)
        loss = kd_loss(teacher_logits, student(images), temperature=4.0)
        ```

    Reference:
        Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network",
        NIPS Deep Learning Workshop 2015.
    """
    temperature = temperature_value("temperature", temperature)
    if standardize:
        teacher_logits, student_logits = (
            standardize_logits(teacher_logits),
            standardize_logits(student_logits),
        )
    return batch_mean(kd_per_sample(teacher_logits, student_logits, temperature), sample_weight)
