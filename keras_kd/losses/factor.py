"""Factor transfer between the paraphraser's and the translator's factors."""

import tensorflow as tf

from keras_kd._checks import one_of, positive_float
from keras_kd.losses._reduce import batch_mean, flatten_per_sample

FORMS = ("paper", "repdistiller")


def _factor(f, form):
    """The normalized factor: flattened (paper) or its channel mean of squares."""
    f = tf.cast(f, tf.float32)
    if form == "repdistiller":
        f = tf.reduce_mean(tf.square(f), axis=-1)
    return tf.math.l2_normalize(flatten_per_sample(f), axis=-1)


def factor_transfer_per_sample(teacher_factor, student_factor, p=1.0, form="paper"):
    """Mean over elements of ``|factor(F_S) - factor(F_T)|^p``, shape (batch,)."""
    t, s = _factor(teacher_factor, form), _factor(student_factor, form)
    return tf.reduce_mean(tf.pow(tf.abs(s - t), p), axis=-1)


def factor_transfer_loss(teacher_factor, student_factor, p=1, sample_weight=None, form="paper"):
    """Factor transfer loss between normalized factors.

    ``form="paper"`` (the paper's factor): ``loss = mean over all elements of
    |F_S/||F_S||_2 - F_T/||F_T||_2|^p``, each factor flattened and
    l2-normalized per sample.

    ``form="repdistiller"`` (RepDistiller's ``distiller_zoo/FT.py``, whose
    CIFAR weight is 200): each factor is first reduced to the H*W map of its
    channel mean of squares, ``mean_c F^2``, which is then l2-normalized per
    sample; the loss is the mean of ``|.|^p`` over the map. On the same input
    the two forms give different values. Both are invariant to a positive
    scaling of either factor.

    Args:
        teacher_factor: the paraphraser's encoder output (batch, H, W, k*C).
        student_factor: the translator's output, same shape.
        p: 1 (the paper's choice) or 2.
        sample_weight: optional (batch,) weights.
        form: ``"paper"`` or ``"repdistiller"``.

    Returns:
        A float32 scalar.

    Example:
        ```python
        loss = factor_transfer_loss(encoder(t_map), translator(s_map), p=1, form="paper")
        ```

    Reference:
        Kim, Park, Kwak, "Paraphrasing Complex Network: Network Compression
        via Factor Transfer", NeurIPS 2018.
    """
    p = positive_float("p", p)
    form = one_of("form", form, FORMS)
    per_sample = factor_transfer_per_sample(teacher_factor, student_factor, p, form)
    return batch_mean(per_sample, sample_weight)
