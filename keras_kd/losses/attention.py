"""Attention transfer: activation-based and gradient-based."""

import tensorflow as tf

from keras_kd._checks import positive_float
from keras_kd.losses._align import align_spatial
from keras_kd.losses._reduce import batch_mean, flatten_per_sample


def attention_map(feat, p=2.0):
    """The attention map ``Q(f) = l2_normalize(mean_c |f|^p)``, flattened.

    Args:
        feat: (batch, H, W, C) feature map (NHWC).
        p: the exponent (2 in the paper).

    Returns:
        A float32 (batch, H*W) tensor; each row has unit L2 norm.

    Example:
        ```python
        q = attention_map(taps(images)["stage2"])  # (batch, 16 * 16) on a 32x32 ResNet
        ```

    Reference:
        Zagoruyko & Komodakis, "Paying More Attention to Attention", ICLR 2017.
    """
    am = tf.reduce_mean(tf.pow(tf.abs(tf.cast(feat, tf.float32)), p), axis=-1)
    return tf.math.l2_normalize(flatten_per_sample(am), axis=-1)


def attention_per_sample(teacher_feat, student_feat, p=2.0):
    """Mean over positions of ``(Q(s) - Q(t))^2``, shape (batch,)."""
    teacher_feat, student_feat = align_spatial(teacher_feat, student_feat)
    diff = attention_map(student_feat, p) - attention_map(teacher_feat, p)
    return tf.reduce_mean(tf.square(diff), axis=-1)


def attention_transfer_loss(teacher_feat, student_feat, p=2, sample_weight=None):
    """Activation-based attention transfer between two NHWC feature maps.

    ``Q(f) = l2_normalize(mean over channels of |f|^p)`` flattened to
    (batch, H*W); ``loss = mean over batch and positions of (Q(s) - Q(t))^2``.
    Maps of different sizes are aligned by average-pooling the larger; channel
    counts may differ. The loss is invariant to a positive scaling of either map.

    Args:
        teacher_feat: (batch, H, W, C_t) teacher features.
        student_feat: (batch, H', W', C_s) student features.
        p: the exponent (2 in the paper).
        sample_weight: optional (batch,) weights.

    Returns:
        A float32 scalar.

    Example:
        ```python
        taps = build_feature_extractor(teacher, ["stage3"])
        loss = attention_transfer_loss(taps(x)["stage3"], student_taps(x)["stage3"], p=2)
        ```

    Reference:
        Zagoruyko & Komodakis, "Paying More Attention to Attention", ICLR 2017.
    """
    p = positive_float("p", p)
    return batch_mean(attention_per_sample(teacher_feat, student_feat, p), sample_weight)


def _safe_norm(x):
    """Euclidean norm of each row with a zero gradient (not NaN) at 0."""
    squared = tf.reduce_sum(tf.square(x), axis=-1)
    positive = squared > 0
    return tf.where(positive, tf.sqrt(tf.where(positive, squared, 1.0)), 0.0)


def _unit_rows(x):
    """Each row divided by its norm; an all-zero row stays zero."""
    norm = _safe_norm(x)[:, None]
    return tf.where(norm > 0, x / tf.where(norm > 0, norm, 1.0), 0.0)


def gradient_attention_per_sample(teacher_input_grad, student_input_grad, normalize=False):
    """``||J_S - J_T||_2`` for each sample, shape (batch,); with ``normalize``,
    ``||J_S / ||J_S|| - J_T / ||J_T||||_2``."""
    student, teacher = (flatten_per_sample(g) for g in (student_input_grad, teacher_input_grad))
    if normalize:
        student, teacher = _unit_rows(student), _unit_rows(teacher)
    return _safe_norm(student - teacher)


def gradient_attention_loss(
    teacher_input_grad, student_input_grad, sample_weight=None, normalize=False
):
    """Gradient-based attention transfer.

    ``J = dL/dx`` is the gradient of a network's cross-entropy (summed over the
    batch, so each row is that sample's own gradient) with respect to the input;
    ``loss = mean over batch of ||J_S - J_T||_2`` (per-sample, flattened).
    The distiller weights it by ``beta / 2`` as in the paper and keeps the
    student's gradient differentiable (a second-order term).

    With ``normalize=True`` (not in the paper) each sample's gradient is
    divided by its L2 norm first, as activation attention maps are: the term
    compares where the networks are sensitive, not how much, and lies in
    [0, 2]. The paper's form also pulls the student's gradient norm towards
    the trained teacher's, which is much smaller than an untrained student's.

    Args:
        teacher_input_grad: (batch, H, W, C) teacher input gradient.
        student_input_grad: the student's input gradient, same shape.
        sample_weight: optional (batch,) weights.
        normalize: compare unit-norm gradients (see above).

    Returns:
        A float32 scalar.

    Example:
        ```python
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = teacher(x)
            ce = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(y, logits, True))
        j_t = tape.gradient(ce, x)  # the same for the student, inside the training tape
        loss = gradient_attention_loss(j_t, j_s)
        ```

    Reference:
        Zagoruyko & Komodakis, "Paying More Attention to Attention", ICLR 2017,
        section 3.2.
    """
    return batch_mean(
        gradient_attention_per_sample(teacher_input_grad, student_input_grad, normalize),
        sample_weight,
    )
