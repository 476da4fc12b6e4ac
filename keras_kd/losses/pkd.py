"""PKD: feature imitation through the Pearson correlation of each channel."""

import tensorflow as tf

from keras_kd._checks import bool_value
from keras_kd.losses._reduce import batch_mean

STD_EPSILON = 1e-6  # added to the standard deviation, as in the authors' code


def standardize_channels(feat):
    """Each channel z-scored over the batch and all positions.

    ``(x - mean_c) / (std_c + 1e-6)``, the statistics of channel ``c`` taken
    over (batch, height, width) together, ``std`` with Bessel's correction
    (``torch.std``, as mmrazor's ``PKDLoss.norm``).

    Args:
        feat: (batch, positions..., channels) features.

    Returns:
        A float32 tensor of ``feat``'s shape.
    """
    feat = tf.cast(feat, tf.float32)
    axes = list(range(feat.shape.rank - 1))
    mean = tf.reduce_mean(feat, axis=axes, keepdims=True)
    count = tf.cast(tf.size(feat) // tf.shape(feat)[-1], tf.float32)
    squares = tf.reduce_sum(tf.square(feat - mean), axis=axes, keepdims=True)
    std = tf.sqrt(squares / (count - 1.0))
    return (feat - mean) / (std + STD_EPSILON)


def check_maps(t_shape, s_shape):
    """Raises unless PKD can compare maps of these shapes (with the batch axis)."""
    t_shape, s_shape = tuple(t_shape), tuple(s_shape)
    same_channels = t_shape[-1:] == s_shape[-1:] and len(t_shape) == len(s_shape)
    resizable = len(t_shape) == 4 or t_shape[1:-1] == s_shape[1:-1]
    if len(t_shape) < 3 or not same_channels or not resizable:
        raise ValueError(
            "`teacher` and `student` must be (batch, height, width, channels) maps with the "
            "same channels (a 1x1 convolution on the student usually matches them), or "
            "(batch, steps, channels) of one shape. Received: teacher shape "
            f"{t_shape}, student shape {s_shape}"
        )
    if len(t_shape) == 4 and None in t_shape[1:3] + s_shape[1:3]:
        raise ValueError(
            "PKD needs static heights and widths to resize one map to the other. "
            f"Received: teacher shape {t_shape}, student shape {s_shape}"
        )


def pkd_per_sample(teacher, student, resize_student=True):
    """Half the mean squared difference of the standardized maps, per sample (batch,)."""
    teacher = tf.cast(teacher, tf.float32)
    student = tf.cast(student, tf.float32)
    if teacher.shape.rank == 4 and teacher.shape[1:3] != student.shape[1:3]:
        if resize_student:
            student = tf.image.resize(student, teacher.shape[1:3], method="bilinear")
        else:
            teacher = tf.image.resize(teacher, student.shape[1:3], method="bilinear")
    diff = standardize_channels(student) - standardize_channels(teacher)
    diff = tf.reshape(diff, [tf.shape(diff)[0], -1])
    return tf.reduce_mean(tf.square(diff), axis=-1) / 2.0


def pkd_loss(teacher, student, resize_student=True, sample_weight=None):
    """PKD: mean squared error of channel-standardized features, halved.

    Each map is standardized per channel over the batch and its positions,
    ``z(x)_c = (x_c - mean(x_c)) / (std(x_c) + 1e-6)``, and

    ``loss = mean over all elements of (z(s) - z(t))^2 / 2``.

    It is the mean over channels of ``(1 - r_c) * (n - 1) / n`` (up to the epsilon),
    ``r_c`` the Pearson correlation of the teacher's and student's values of
    channel ``c`` over the ``n = batch * height * width`` positions: the
    student matches the teacher's relations, not its magnitude (a positive
    scaling or a shift of either map per channel leaves the loss unchanged).

    As in the authors' code (mmrazor ``PKDLoss``), the statistics are those of
    the whole batch (N, H, W) per channel, with Bessel's correction, and
    1e-6 added to the standard deviation (the axes and the epsilon are the
    code's; the paper states the zero-mean, unit-variance normalization and
    the Pearson correlation it amounts to). When the spatial sizes
    differ, the student is resized bilinearly to the teacher's size
    (``resize_student=False``: the teacher to the student's), as
    ``F.interpolate(mode="bilinear")`` does; mmrazor compares the heights
    only, this compares height and width. mmrazor also accepts a tuple of
    maps (the FPN levels) and sums their losses; call this once per level.

    Sample weights: the statistics still come from every sample of the batch
    (weights do not change the normalization; a zero-weight sample shifts
    the others' standardized values); the per-sample mean of the squared
    differences is then weighted, ``sum(w * loss_b) / batch``, so all-ones
    weights give the authors' value. Under `tf.distribute` each replica
    standardizes with its own batch (like unsynchronized batch norm).

    Args:
        teacher: (batch, height, width, channels) teacher features
            (a (batch, steps, channels) sequence of the student's shape works
            too).
        student: student features with the teacher's channels (after a
            connector if needed); any height and width.
        resize_student: resize the student to the teacher's spatial size
            (True, the authors' default) or the teacher to the student's.
        sample_weight: optional (batch,) weights.

    Returns:
        A float32 scalar.

    Example:
        ```python
        # one FPN level; mmrazor's configs weigh each level's loss by 6 or 10
        loss = pkd_loss(teacher_fpn_p3, student_fpn_p3)
        ```

    Reference:
        Cao, Huang, Xu, Shi, Zhang, Bai, Wang, "PKD: General Distillation
        Framework for Object Detectors via Pearson Correlation Coefficient",
        NeurIPS 2022.
    """
    resize_student = bool_value("resize_student", resize_student)
    teacher, student = tf.convert_to_tensor(teacher), tf.convert_to_tensor(student)
    check_maps(teacher.shape, student.shape)
    return batch_mean(pkd_per_sample(teacher, student, resize_student), sample_weight)
