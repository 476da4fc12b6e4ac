"""Pair-wise distillation: the similarity of every pair of positions (structured KD)."""

import numbers

import tensorflow as tf

from keras_kd.losses._reduce import batch_mean

NORM_EPSILON = 1e-8  # added to each position's channel norm, as in the authors' code


def scale_value(name, value):
    """Returns ``value`` as a float in (0, 1], else raises."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value <= 1:
        raise ValueError(
            f"`{name}` must be a float in (0, 1]: the pooling window as a fraction of the "
            f"teacher map's height and width. Received: {name}={value!r}"
        )
    return float(value)


def pool_window(height, width, scale):
    """The max-pooling window (and stride) for a ``height`` x ``width`` teacher map:
    ``int(height * scale), int(width * scale)``, at least 1 each."""
    return max(1, int(height * scale)), max(1, int(width * scale))


def _max_pool_ceil(x, window):
    """Max pooling with window = stride from the top-left corner, keeping a last
    partial window (PyTorch's ``ceil_mode=True``; TF's "SAME" would centre the
    padding instead)."""
    height, width = x.shape[1], x.shape[2]
    pad_h, pad_w = -height % window[0], -width % window[1]
    if pad_h or pad_w:
        x = tf.pad(x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], constant_values=x.dtype.min)
    return tf.nn.max_pool2d(x, ksize=window, strides=window, padding="VALID")


def position_similarity(feat):
    """Cosine similarity of every pair of positions' channel vectors, (batch, P, P).

    Each position's channel vector is divided by its L2 norm plus 1e-8; as in
    the authors' code the norm is a constant for the gradient (stopped).
    """
    feat = tf.cast(feat, tf.float32)
    feat = tf.reshape(feat, [tf.shape(feat)[0], -1, tf.shape(feat)[-1]])
    norm = tf.norm(feat, axis=-1, keepdims=True) + NORM_EPSILON
    unit = feat / tf.stop_gradient(norm)
    return tf.matmul(unit, unit, transpose_b=True)


def pairwise_per_sample(teacher, student, scale):
    """Mean over pairs of positions of the squared similarity difference, (batch,)."""
    window = pool_window(teacher.shape[1], teacher.shape[2], scale)
    sim_t = position_similarity(_max_pool_ceil(tf.cast(teacher, tf.float32), window))
    sim_s = position_similarity(_max_pool_ceil(tf.cast(student, tf.float32), window))
    return tf.reduce_mean(tf.square(sim_t - sim_s), axis=[1, 2])


def pairwise_loss(teacher, student, scale=0.5, sample_weight=None):
    """Pair-wise distillation: match the similarity between every two positions.

    Both maps are max-pooled with a window (and stride) of
    ``int(H * scale) x int(W * scale)`` positions (H, W the teacher's), each
    pooled position ``i`` keeps its channel vector ``f_i``, and with
    ``a_ij = f_i . f_j / ((|f_i| + 1e-8) (|f_j| + 1e-8))``:

    ``loss = mean_b( 1 / P^2 * sum_i sum_j (a_ij(t) - a_ij(s))^2 )``,

    ``P`` the number of pooled positions. Teacher and student may have
    different channel counts (only the P x P similarities are compared), but
    the same height and width.

    This follows the authors' code (structure_knowledge_distillation,
    ``CriterionPairWiseforWholeFeatAfterPool`` and ``sim_dis_compute``):
    the sum over the batch and pairs divided by ``P^2`` and the batch size;
    the pooling keeps a last partial window (``ceil_mode=True``); the
    default ``scale=0.5`` (their ``--pool-scale``) pools to a 2 x 2 grid, so
    only 4 positions (16 pairs) are compared. The channel norm is treated as
    a constant for the gradient (the authors ``detach`` it); the value is
    the same either way. A pooled position whose channel vector is all zero
    (possible after a ReLU) gets a unit vector of 0 and gradients of order
    1 / 1e-8 there, in the authors' code as here. The paper describes each node as a spatial
    local patch of the pooled map, with the squared difference averaged over
    the pairs.

    Args:
        teacher: (batch, height, width, channels) teacher features.
        student: (batch, height, width, channels') student features, the
            teacher's height and width (static).
        scale: the pooling window as a fraction of the teacher's height and
            width, in (0, 1]; 0.5 by default as in the authors' training
            script.
        sample_weight: optional (batch,) weights.

    Returns:
        A float32 scalar.

    Example:
        ```python
        # the authors weigh it by --lambda-pa (0.5 in their run script)
        loss = 0.5 * pairwise_loss(teacher_feat, student_feat, scale=0.5)
        ```

    Reference:
        Liu, Chen, Liu, Qin, Luo, Wang, "Structured Knowledge Distillation for
        Semantic Segmentation", CVPR 2019.
    """
    scale = scale_value("scale", scale)
    teacher, student = tf.convert_to_tensor(teacher), tf.convert_to_tensor(student)
    t_shape, s_shape = tuple(teacher.shape), tuple(student.shape)
    if len(t_shape) != 4 or len(s_shape) != 4 or t_shape[:3] != s_shape[:3] or None in t_shape[1:3]:
        raise ValueError(
            "`teacher` and `student` must be (batch, height, width, channels) maps with the "
            "same static height and width (channels may differ). Received: teacher shape "
            f"{t_shape}, student shape {s_shape}"
        )
    return batch_mean(pairwise_per_sample(teacher, student, scale), sample_weight)
