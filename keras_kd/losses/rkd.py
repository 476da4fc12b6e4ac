"""Relational knowledge distillation (distance- and angle-wise)."""

import tensorflow as tf

from keras_kd._checks import non_negative_float
from keras_kd.losses._reduce import flatten_per_sample


def _huber(a, b):
    """Mean Huber (smooth L1, delta 1) over all elements."""
    diff = tf.abs(a - b)
    return tf.reduce_mean(tf.where(diff < 1.0, 0.5 * tf.square(diff), diff - 0.5))


def _safe_unit(x):
    """``x / ||x||`` along the last axis; zero vectors stay zero."""
    squared = tf.reduce_sum(tf.square(x), axis=-1, keepdims=True)
    positive = squared > 0
    return tf.where(positive, x * tf.math.rsqrt(tf.where(positive, squared, 1.0)), 0.0)


def normalized_distances(emb):
    """Pairwise Euclidean distances divided by the mean of the non-zero ones."""
    diff = emb[None, :, :] - emb[:, None, :]
    squared = tf.reduce_sum(tf.square(diff), axis=-1)
    positive = squared > 0
    dist = tf.where(positive, tf.sqrt(tf.where(positive, squared, 1.0)), 0.0)
    count = tf.maximum(tf.reduce_sum(tf.cast(positive, tf.float32)), 1.0)
    mean = tf.reduce_sum(dist) / count
    return dist / tf.where(mean > 0, mean, 1.0)


def triplet_angles(emb):
    """``<(e_j - e_i)/|e_j - e_i|, (e_k - e_i)/|e_k - e_i|>`` for all (i, j, k)."""
    units = _safe_unit(emb[None, :, :] - emb[:, None, :])
    return tf.matmul(units, units, transpose_b=True)


def rkd_distance_loss(teacher_emb, student_emb):
    """Huber loss between the normalized pairwise distance matrices (B x B mean)."""
    t, s = flatten_per_sample(teacher_emb), flatten_per_sample(student_emb)
    return _huber(normalized_distances(s), normalized_distances(t))


def rkd_angle_loss(teacher_emb, student_emb):
    """Huber loss between the triplet angle tensors (B x B x B mean)."""
    t, s = flatten_per_sample(teacher_emb), flatten_per_sample(student_emb)
    return _huber(triplet_angles(s), triplet_angles(t))


def rkd_loss(teacher_emb, student_emb, distance_weight=25.0, angle_weight=50.0):
    """Relational KD: match distances and angles between samples of a batch.

    Distance-wise: the B x B matrix of pairwise Euclidean distances (diagonal
    0) divided by the mean of its non-zero entries; Huber (delta 1) between
    student and teacher, mean over all B x B entries. Angle-wise: for all
    triples (i, j, k), the cosine between ``e_j - e_i`` and ``e_k - e_i``
    (degenerate triples give 0); Huber, mean over all B^3 entries.

    ``loss = distance_weight * L_distance + angle_weight * L_angle``.

    Being relational, the loss is defined on the batch as a whole (no sample
    weights). It is invariant to a common rotation, translation and (for the
    normalized distances and angles) scaling of either embedding set.

    Args:
        teacher_emb: (batch, ...) teacher embeddings, flattened per sample.
        student_emb: (batch, ...) student embeddings (dimensions may differ).
        distance_weight: weight of the distance term (25 in the paper).
        angle_weight: weight of the angle term (50 in the paper).

    Returns:
        A float32 scalar.

    Example:
        ```python
        loss = rkd_loss(t_out["pool"], s_out["pool"], distance_weight=25.0, angle_weight=50.0)
        ```

    Reference:
        Park, Kim, Lu, Cho, "Relational Knowledge Distillation", CVPR 2019.
    """
    distance_weight = non_negative_float("distance_weight", distance_weight)
    angle_weight = non_negative_float("angle_weight", angle_weight)
    return distance_weight * rkd_distance_loss(
        teacher_emb, student_emb
    ) + angle_weight * rkd_angle_loss(teacher_emb, student_emb)
