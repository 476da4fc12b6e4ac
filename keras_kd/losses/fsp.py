"""Flow of solution procedure (FSP) matrices."""

import tensorflow as tf

from keras_kd.losses._align import align_spatial
from keras_kd.losses._reduce import batch_mean


def fsp_matrix(feat_a, feat_b):
    """The FSP (flow) matrix of two feature maps of one network.

    ``G[i, j] = sum_{s,t} F1[s, t, i] * F2[s, t, j] / (H * W)`` after the
    larger map is average-pooled to the smaller size.

    Args:
        feat_a: (batch, H, W, C1), the earlier layer.
        feat_b: (batch, H', W', C2), the later layer.

    Returns:
        (batch, C1, C2) float32.

    Example:
        ```python
        g = fsp_matrix(out["stage1"], out["stage2"])  # (batch, 16, 32) on a ResNet-20
        ```

    Reference:
        Yim, Joo, Bae, Kim, "A Gift from Knowledge Distillation: Fast
        Optimization, Network Minimization and Transfer Learning", CVPR 2017.
    """
    a, b = align_spatial(tf.cast(feat_a, tf.float32), tf.cast(feat_b, tf.float32))
    area = tf.cast(tf.shape(a)[1] * tf.shape(a)[2], tf.float32)
    return tf.einsum("bhwi,bhwj->bij", a, b) / area


def check_fsp_pairs(teacher_shapes, student_shapes, teacher_names=None, student_names=None):
    """Raises a ValueError unless the layer lists can be compared by FSP."""
    teacher_names = teacher_names or [f"teacher_feats[{i}]" for i in range(len(teacher_shapes))]
    student_names = student_names or [f"student_feats[{i}]" for i in range(len(student_shapes))]
    if len(teacher_shapes) != len(student_shapes) or len(teacher_shapes) < 2:
        raise ValueError(
            "FSP needs two equally long lists of at least 2 feature maps. Received: "
            f"{len(teacher_shapes)} teacher and {len(student_shapes)} student maps"
        )
    for tn, ts, sn, ss in zip(
        teacher_names, teacher_shapes, student_names, student_shapes, strict=True
    ):
        if ts[-1] != ss[-1]:
            raise ValueError(
                "FSP compares flow matrices, so matching teacher and student layers "
                "must have equal channel counts. Received: teacher layer "
                f"{tn!r} shape {tuple(ts)}, student layer {sn!r} shape {tuple(ss)}"
            )


def fsp_per_sample(teacher_feats, student_feats):
    """Sum over consecutive pairs of the per-sample mean squared difference."""
    total = 0.0
    for k in range(len(teacher_feats) - 1):
        g_t = fsp_matrix(teacher_feats[k], teacher_feats[k + 1])
        g_s = fsp_matrix(student_feats[k], student_feats[k + 1])
        total += tf.reduce_mean(tf.square(g_s - g_t), axis=[1, 2])
    return total


def fsp_loss(teacher_feats, student_feats, sample_weight=None):
    """FSP distillation: match the flow matrices of consecutive layer pairs.

    For each consecutive pair ``(k, k + 1)`` of the lists, ``G_T`` and ``G_S``
    are the FSP matrices (see `fsp_matrix`);
    ``loss = sum over pairs of mean((G_S - G_T)^2)``.

    Args:
        teacher_feats: list of >= 2 teacher feature maps (NHWC).
        student_feats: list of the same length; each map has the channel count
            of its teacher counterpart.
        sample_weight: optional (batch,) weights.

    Returns:
        A float32 scalar.

    Example:
        ```python
        loss = fsp_loss([t_out["stage1"], t_out["stage2"]], [s_out["stage1"], s_out["stage2"]])
        ```

    Reference:
        Yim, Joo, Bae, Kim, "A Gift from Knowledge Distillation: Fast
        Optimization, Network Minimization and Transfer Learning", CVPR 2017.
    """
    check_fsp_pairs([f.shape for f in teacher_feats], [f.shape for f in student_feats])
    return batch_mean(fsp_per_sample(teacher_feats, student_feats), sample_weight)
