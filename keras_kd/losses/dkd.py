"""Decoupled knowledge distillation: target and non-target terms of KD."""

import tensorflow as tf

from keras_kd._checks import non_negative_float, temperature_value
from keras_kd.losses._reduce import batch_mean
from keras_kd.losses.kd import standardize_logits

_MASK = 1000.0  # subtracted from the target logit to drop it from a softmax


def _target_mask(labels, logits):
    labels = tf.cast(labels, tf.float32)
    num_classes = logits.shape[-1]
    if labels.shape.rank == logits.shape.rank and labels.shape[-1] == num_classes:
        labels = tf.argmax(labels, axis=-1)
    index = tf.cast(tf.reshape(labels, tf.shape(logits)[:-1]), tf.int32)
    return tf.one_hot(index, num_classes, dtype=tf.float32)


def _kl(p, log_p, log_q):
    return tf.reduce_sum(p * (log_p - log_q), axis=-1)


def _log_binary(z, gt):
    """``log [p_target, 1 - p_target]`` of softmax(z), computed in log space so
    that a saturated softmax gives finite logs (0 * log 0 stays 0 in the KL)."""
    total = tf.reduce_logsumexp(z, axis=-1)
    target = tf.reduce_sum(z * gt, axis=-1) - total
    others = tf.reduce_logsumexp(tf.where(gt > 0, -_MASK * _MASK, z), axis=-1) - total
    return tf.stack([target, others], axis=-1)


def dkd_per_sample(teacher_logits, student_logits, labels, temperature, alpha, beta):
    """``T^2 * (alpha * TCKD + beta * NCKD)`` for each sample, shape (batch,)."""
    t = tf.cast(teacher_logits, tf.float32) / temperature
    s = tf.cast(student_logits, tf.float32) / temperature
    gt = _target_mask(labels, s)
    log_b_t, log_b_s = _log_binary(t, gt), _log_binary(s, gt)
    tckd = _kl(tf.exp(log_b_t), log_b_t, log_b_s)
    log_hat_t = tf.nn.log_softmax(t - _MASK * gt)
    log_hat_s = tf.nn.log_softmax(s - _MASK * gt)
    nckd = _kl(tf.exp(log_hat_t), log_hat_t, log_hat_s)
    return temperature**2 * (alpha * tckd + beta * nckd)


def dkd_loss(
    teacher_logits,
    student_logits,
    labels,
    temperature=4.0,
    alpha=1.0,
    beta=8.0,
    sample_weight=None,
    standardize=False,
):
    """Decoupled KD between teacher and student logits, given the labels.

    With softmax outputs ``p`` at temperature T, ``b = [p_target, 1 - p_target]``
    and ``p_hat`` the softmax over the non-target classes only:

    ``loss = T^2 * mean_b( alpha * KL(b_t || b_s) + beta * KL(p_hat_t || p_hat_s) )``

    TCKD (target-class KD) and NCKD (non-target-class KD) split Hinton's KD:
    ``KD = TCKD + (1 - p_target_t) * NCKD``; DKD weighs them independently.
    The non-target softmax masks the target logit by subtracting 1000 from it,
    as the authors' code (mdistiller ``distillers/DKD.py``) does; the binary
    distributions are taken in log space, so a saturated softmax (a teacher
    sure of its class) gives a finite loss where the authors' float32 code
    would also treat ``0 * log 0`` as 0.

    Args:
        teacher_logits: (batch, classes) teacher logits.
        student_logits: (batch, classes) student logits.
        labels: class indices (batch,) or (batch, 1), or one-hot rows (their
            arg-max is the target).
        temperature: T in (0, 1000] (4 on CIFAR-100 in the paper).
        alpha: TCKD weight (1 in the paper).
        beta: NCKD weight (8 for most CIFAR-100 pairs in the paper).
        sample_weight: optional (batch,) weights.
        standardize: z-score each sample's logits first (`standardize_logits`,
            Sun et al., CVPR 2024).

    Returns:
        A float32 scalar.

    Example:
        ```python
        loss = dkd_loss(teacher(x), student(x), y, temperature=4.0, alpha=1.0, beta=8.0)
        ```

    Reference:
        Zhao, Cui, Song, Qiu, Liang, "Decoupled Knowledge Distillation", CVPR 2022.
    """
    temperature = temperature_value("temperature", temperature)
    alpha = non_negative_float("alpha", alpha)
    beta = non_negative_float("beta", beta)
    if standardize:
        teacher_logits = standardize_logits(teacher_logits)
        student_logits = standardize_logits(student_logits)
    per_sample = dkd_per_sample(teacher_logits, student_logits, labels, temperature, alpha, beta)
    return batch_mean(per_sample, sample_weight)
