"""DIST: relations between predictions instead of exact probabilities."""

import tensorflow as tf

from keras_kd._checks import non_negative_float, temperature_value

_EPS = 1e-8


def _pearson_rows(a, b):
    """Pearson correlation of each row of ``a`` with the same row of ``b``."""
    a = a - tf.reduce_mean(a, axis=-1, keepdims=True)
    b = b - tf.reduce_mean(b, axis=-1, keepdims=True)
    norms = tf.norm(a, axis=-1) * tf.norm(b, axis=-1)
    return tf.reduce_sum(a * b, axis=-1) / (norms + _EPS)


def _real_rows(logits, mask):
    """The logits as (rows, C): one row per sample or position, the masked ones left out."""
    rows = tf.reshape(tf.cast(logits, tf.float32), [-1, tf.shape(logits)[-1]])
    if mask is None:
        return rows
    return tf.boolean_mask(rows, tf.reshape(tf.cast(mask, tf.bool), [-1]))


def dist_loss(
    teacher_logits,
    student_logits,
    temperature=1.0,
    inter_weight=1.0,
    intra_weight=1.0,
    mask=None,
):
    """DIST loss between teacher and student logits (batch-level).

    With ``Y = softmax(z / tau)`` for each network (batch, classes):

    - inter-class: ``tau^2 * mean_i (1 - pearson(Y_s[i, :], Y_t[i, :]))``, each
      sample's class distribution;
    - intra-class: ``tau^2 * mean_j (1 - pearson(Y_s[:, j], Y_t[:, j]))``, each
      class across the batch;

    ``loss = inter_weight * inter + intra_weight * intra``. Pearson correlation
    is invariant to a positive scaling and a shift of either prediction, so
    the student matches the teacher's relations rather than its values. The
    intra-class term relates the samples of a batch, so sample weights do not
    apply. Logits with positions, (batch, *positions, classes), take each
    real position as a row (a pixel's or a token's class distribution); the
    intra-class relation is then across the batch's real positions. The
    small epsilon in the correlation's denominator is the
    authors' (1e-8).

    Args:
        teacher_logits: (batch, classes) or (batch, *positions, classes)
            teacher logits.
        student_logits: student logits of the same shape.
        temperature: tau in (0, 1000].
        inter_weight: beta of the paper.
        intra_weight: gamma of the paper.
        mask: None, or a boolean (batch, *positions) tensor: True at the real
            positions (the others, e.g. padding, are left out of both relations).

    Returns:
        A float32 scalar.

    Example:
        ```python
        loss = dist_loss(teacher(x), student(x), temperature=4.0, inter_weight=1.0)
        ```

    Reference:
        Huang, You, Wang, Qian, Xu, "Knowledge Distillation from A Stronger
        Teacher", NeurIPS 2022.
    """
    tau = temperature_value("temperature", temperature)
    inter_weight = non_negative_float("inter_weight", inter_weight)
    intra_weight = non_negative_float("intra_weight", intra_weight)
    y_t = tf.nn.softmax(_real_rows(teacher_logits, mask) / tau)
    y_s = tf.nn.softmax(_real_rows(student_logits, mask) / tau)
    inter = 1.0 - tf.reduce_mean(_pearson_rows(y_s, y_t))
    intra = 1.0 - tf.reduce_mean(_pearson_rows(tf.transpose(y_s), tf.transpose(y_t)))
    return tau**2 * (inter_weight * inter + intra_weight * intra)
