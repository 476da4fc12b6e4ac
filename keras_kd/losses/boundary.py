"""Activation-boundary transfer (margin hinge on pre-activations)."""

import tensorflow as tf

from keras_kd._checks import non_negative_float
from keras_kd.losses._reduce import batch_mean, flatten_per_sample


def activation_boundary_per_sample(teacher_preact, student_preact, margin=1.0):
    """Per-sample sum of the margin hinge over all elements, shape (batch,)."""
    t = flatten_per_sample(teacher_preact)
    s = flatten_per_sample(student_preact)
    off = tf.cast((s > -margin) & (t <= 0), tf.float32)
    on = tf.cast((s <= margin) & (t > 0), tf.float32)
    return tf.reduce_sum(tf.square(s + margin) * off + tf.square(s - margin) * on, axis=-1)


def activation_boundary_loss(teacher_preact, student_preact, margin=1.0, sample_weight=None):
    """Activation-boundary loss: makes student neurons switch on and off with
    the teacher's.

    The indicator ``rho(x) = 1[x > 0]`` has no gradient, so the paper uses a
    margin hinge. Per sample, summed over elements:

    ``(s + m)^2 * 1[s > -m and t <= 0] + (s - m)^2 * 1[s <= m and t > 0]``,

    averaged over the batch. ``s`` is the student's pre-activation after its
    connector (1x1 conv + BN to the teacher's channel count), ``t`` the
    teacher's pre-activation. The authors' code also divides the sum by a
    constant; keras_kd leaves the scale to the distiller's ``feature_weight``.

    Args:
        teacher_preact: teacher pre-ReLU responses (batch, ...).
        student_preact: connected student pre-ReLU responses, same shape.
        margin: m >= 0.
        sample_weight: optional (batch,) weights.

    Returns:
        A float32 scalar.

    Example:
        ```python
        loss = activation_boundary_loss(t_out["stage3_preact"], connector(s_out["stage3_preact"]))
        ```

    Reference:
        Heo et al., "Knowledge Transfer via Distillation of Activation
        Boundaries Formed by Hidden Neurons", AAAI 2019.
    """
    margin = non_negative_float("margin", margin)
    return batch_mean(
        activation_boundary_per_sample(teacher_preact, student_preact, margin),
        sample_weight,
    )
