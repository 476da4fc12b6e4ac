"""Neuron selectivity transfer (MMD with a polynomial kernel)."""

import tensorflow as tf

from keras_kd.losses._align import align_spatial
from keras_kd.losses._reduce import batch_mean


def _channel_vectors(feat):
    """(batch, H, W, C) -> (batch, C, H*W), each channel's map l2-normalized."""
    feat = tf.cast(feat, tf.float32)
    shape = tf.shape(feat)
    vectors = tf.transpose(tf.reshape(feat, [shape[0], -1, shape[3]]), [0, 2, 1])
    return tf.math.l2_normalize(vectors, axis=-1)


def _mean_poly_kernel(a, b):
    """Per-sample mean over channel pairs of ``(a_i . b_j)^2``."""
    return tf.reduce_mean(tf.square(tf.matmul(a, b, transpose_b=True)), axis=[1, 2])


def nst_per_sample(teacher_feat, student_feat):
    """Squared MMD between the channel distributions, shape (batch,)."""
    teacher_feat, student_feat = align_spatial(teacher_feat, student_feat)
    t, s = _channel_vectors(teacher_feat), _channel_vectors(student_feat)
    return _mean_poly_kernel(t, t) + _mean_poly_kernel(s, s) - 2.0 * _mean_poly_kernel(s, t)


def nst_loss(teacher_feat, student_feat, sample_weight=None):
    """Neuron selectivity transfer: squared MMD with the kernel ``(a . b)^2``.

    Each channel's spatial map is one sample: features are reshaped to
    (batch, C, H*W) and each channel vector is l2-normalized. With
    ``k(a, b) = (a . b)^2`` (polynomial, d = 2, c = 0):

    ``loss = mean k(t, t) + mean k(s, s) - 2 mean k(s, t)``,

    each mean over the batch and all channel pairs. Channel counts may
    differ; spatial sizes are aligned by average-pooling the larger.

    Args:
        teacher_feat: (batch, H, W, C_t) teacher features.
        student_feat: (batch, H', W', C_s) student features.
        sample_weight: optional (batch,) weights.

    Returns:
        A float32 scalar.

    Example:
        ```python
        loss = nst_loss(t_out["stage3"], s_out["stage3"])  # channel counts may differ
        ```

    Reference:
        Huang & Wang, "Like What You Like: Knowledge Distill via Neuron
        Selectivity Transfer", arXiv:1707.01219, 2017.
    """
    return batch_mean(nst_per_sample(teacher_feat, student_feat), sample_weight)
