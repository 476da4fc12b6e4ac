"""Channel-wise distillation: each channel's spatial distribution, teacher to student."""

import tensorflow as tf

from keras_kd._checks import temperature_value
from keras_kd.losses._reduce import batch_mean

_FAR = -1e9  # a masked position's logit: exp underflows to 0 in the softmax


def check_same_maps(teacher, student, minimum_rank=3):
    """Raises unless the two maps are (batch, positions..., channels) of one shape."""
    t_shape, s_shape = tuple(teacher.shape), tuple(student.shape)
    if len(t_shape) < minimum_rank or t_shape[1:] != s_shape[1:] or len(t_shape) != len(s_shape):
        raise ValueError(
            "`teacher` and `student` must be maps of one shape (batch, positions..., "
            f"channels), at least {minimum_rank}-D (a 1x1 convolution on the student "
            f"usually matches the channels). Received: teacher shape {t_shape}, "
            f"student shape {s_shape}"
        )


def _positions_first(x):
    """(B, P..., C) -> (B, C, P): one row of positions per channel, float32."""
    x = tf.cast(x, tf.float32)
    x = tf.reshape(x, [tf.shape(x)[0], -1, tf.shape(x)[-1]])
    return tf.transpose(x, [0, 2, 1])


def cwd_per_sample(teacher, student, temperature, mask=None):
    """``tau^2 * mean_c KL(softmax_P(t_c / tau) || softmax_P(s_c / tau))`` per sample.

    Args:
        teacher: (batch, positions..., channels) teacher map.
        student: student map of the same shape.
        temperature: tau > 0.
        mask: None, or a boolean (batch, positions...) tensor, True at the real
            positions: the others are left out of every channel's softmax.

    Returns:
        A float32 (batch,) tensor.
    """
    t = _positions_first(teacher) / temperature
    s = _positions_first(student) / temperature
    real = None
    if mask is not None:
        real = tf.reshape(tf.cast(mask, tf.bool), [tf.shape(t)[0], 1, -1])
        t = tf.where(real, t, _FAR)
        s = tf.where(real, s, _FAR)
    log_p_t = tf.nn.log_softmax(t, axis=-1)
    log_p_s = tf.nn.log_softmax(s, axis=-1)
    terms = tf.exp(log_p_t) * (log_p_t - log_p_s)
    if real is not None:
        terms = tf.where(real, terms, 0.0)
    kl = tf.reduce_sum(terms, axis=-1)  # (B, C)
    return temperature**2 * tf.reduce_mean(kl, axis=-1)


def cwd_loss(teacher, student, temperature=1.0, sample_weight=None, mask=None):
    """Channel-wise distillation (CWD) between teacher and student maps.

    Each channel ``c`` of a sample becomes a distribution over the map's
    positions ``i`` (the H*W pixels, or the T steps of a sequence):
    ``phi(y_c)_i = exp(y_{c,i} / tau) / sum_j exp(y_{c,j} / tau)``, and

    ``loss = mean_b( tau^2 / C * sum_c sum_i phi(t_c)_i * log(phi(t_c)_i / phi(s_c)_i) )``.

    The student learns where each teacher channel (a class score map, or a
    feature channel) puts its mass, rather than every value. Adding a
    constant to a channel of either map (per sample) leaves the loss
    unchanged; it is 0 when the maps are equal.

    This is what the paper's authors' implementation in mmrazor
    (``ChannelWiseDivergence``) computes: the sum over samples, channels and
    positions divided by ``N * C``. The paper writes the same normalization
    (``tau^2 / C``) per sample.

    Args:
        teacher: (batch, height, width, channels) teacher map (logits or
            features); a (batch, steps, channels) sequence works the same,
            with the steps as positions.
        student: student map of the same shape (channels matched by the
            caller, e.g. with a 1x1 convolution, as mmrazor's connectors do).
        temperature: tau in (0, 1000] (mmrazor's CWD configs use 1, with loss
            weights 5 to 10).
        sample_weight: optional (batch,) weights; the result is
            ``sum(w * loss_b) / batch``.
        mask: optional boolean (batch, positions...) tensor, True at the real
            positions (e.g. the non-padding steps of a sequence). Padded
            positions are left out of each channel's softmax and the sum,
            so padding does not change the value. Not in the authors' code.

    Returns:
        A float32 scalar.

    Example:
        ```python
        loss = cwd_loss(teacher_logits_map, student_logits_map, temperature=4.0)
        ```

    Reference:
        Shu, Liu, Gao, Yan, Shen, "Channel-wise Knowledge Distillation for
        Dense Prediction", ICCV 2021.
    """
    temperature = temperature_value("temperature", temperature)
    teacher, student = tf.convert_to_tensor(teacher), tf.convert_to_tensor(student)
    check_same_maps(teacher, student)
    return batch_mean(cwd_per_sample(teacher, student, temperature, mask), sample_weight)
