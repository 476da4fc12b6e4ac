"""FitNets hint loss."""

import tensorflow as tf

from keras_kd.losses._reduce import batch_mean, flatten_per_sample


def hint_per_sample(teacher_feat, student_feat):
    """Mean squared error over each sample's elements, shape (batch,)."""
    diff = flatten_per_sample(student_feat) - flatten_per_sample(teacher_feat)
    return tf.reduce_mean(tf.square(diff), axis=-1)


def hint_loss(teacher_feat, student_feat, sample_weight=None):
    """FitNets hint: mean squared error between the teacher's hint layer and the
    student's guided layer after its regressor.

    ``loss = mean over all elements of (regressor(s) - t)^2``.

    Args:
        teacher_feat: teacher hint features, any shape (batch, ...).
        student_feat: regressed student features of the same shape.
        sample_weight: optional (batch,) weights.

    Returns:
        A float32 scalar.

    Example:
        ```python
        loss = hint_loss(t_out["stage2"], regressor(s_out["stage2"]))
        ```

    Reference:
        Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015.
    """
    return batch_mean(hint_per_sample(teacher_feat, student_feat), sample_weight)
