"""Generalized Jensen-Shannon divergence between token distributions (GKD)."""

import math
import numbers

import tensorflow as tf

from keras_kd._checks import temperature_value
from keras_kd.losses._reduce import batch_mean


def beta_value(name, value):
    """Returns ``value`` as a float in [0, 1], else raises."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(
            f"`{name}` must be a float in [0, 1] (0: forward KL(teacher || student), "
            f"1: reverse KL(student || teacher)). Received: {name}={value!r}"
        )
    return float(value)


def _kl(log_p, log_q):
    """``sum_v p_v * (log p_v - log q_v)`` over the last axis."""
    return tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), axis=-1)


def gkd_per_position(teacher_logits, student_logits, beta, temperature):
    """The generalized JSD at each position, shape (batch, ...).

    ``beta = 0``: ``KL(p_t || p_s)``; ``beta = 1``: ``KL(p_s || p_t)``; in
    between ``beta * KL(p_t || m) + (1 - beta) * KL(p_s || m)`` with
    ``m = beta * p_t + (1 - beta) * p_s``, ``p = softmax(logits / T)``.
    """
    log_p_t = tf.nn.log_softmax(tf.cast(teacher_logits, tf.float32) / temperature, axis=-1)
    log_p_s = tf.nn.log_softmax(tf.cast(student_logits, tf.float32) / temperature, axis=-1)
    if beta == 0:
        return _kl(log_p_t, log_p_s)
    if beta == 1:
        return _kl(log_p_s, log_p_t)
    log_m = tf.reduce_logsumexp(
        tf.stack([log_p_t + math.log(beta), log_p_s + math.log1p(-beta)]), axis=0
    )
    return beta * _kl(log_p_t, log_m) + (1.0 - beta) * _kl(log_p_s, log_m)


def gkd_loss(
    teacher_logits,
    student_logits,
    beta=0.5,
    temperature=1.0,
    sample_weight=None,
    mask=None,
):
    """Generalized Jensen-Shannon divergence (GKD) per token, averaged over real tokens.

    With ``P = softmax(teacher / T)``, ``Q = softmax(student / T)`` over the
    last (vocabulary) axis and ``M = beta * P + (1 - beta) * Q``:

    ``JSD(beta) = beta * KL(P || M) + (1 - beta) * KL(Q || M)``  for 0 < beta < 1,

    ``beta = 0``: ``KL(P || Q)`` (forward KL, the usual distillation KL);
    ``beta = 1``: ``KL(Q || P)`` (reverse KL, mode seeking).

    At beta = 0 or 1 the JSD formula itself is 0 (M equals one of the two
    distributions). The paper notes that JSD(beta)'s gradients behave like
    forward KL's near beta = 0 and reverse KL's near 1; TRL's
    ``GKDTrainer.generalized_jsd_loss`` uses the two KLs at the endpoints,
    and so does this function (a jump, not a limit). The mixture is
    taken in log space (logsumexp of ``log P + log beta`` and
    ``log Q + log(1 - beta)``), as TRL does. No ``T^2`` factor is applied
    (TRL applies none either). Adding a constant to one position's logits
    leaves the loss unchanged; it is 0 when the logits are equal.

    Reduction: the sum over real tokens divided by the number of real tokens
    in the whole batch (`batch_mean`). With a mask this is TRL's
    ``reduction="batchmean"`` with ``labels`` (``-100`` = padding), and its
    ``num_items_in_batch`` normalization (global token count, TRL #4719):
    counted over every replica here, so there is no per-micro-batch
    normalization bias. Without labels TRL's "batchmean" divides the sum over
    all tokens by the batch size instead (a per-sequence sum); that value is
    this one times the sequence length.

    Args:
        teacher_logits: (batch, ..., vocab) teacher logits, e.g. (batch,
            steps, vocab) for a sequence (a causal model's logits already
            shifted to predict the next token).
        student_logits: student logits of the same shape.
        beta: in [0, 1]: 0 is forward KL, 1 reverse KL, 0.5 the symmetric
            JSD (TRL's ``GKDConfig`` default).
        temperature: T in (0, 1000]. TRL's trainer calls the loss with 1
            (``GKDConfig.temperature``, 0.9, is its sampling temperature).
        sample_weight: optional (batch,) sample weights, or per-token weights
            of shape (batch, ...) (a padding mask: weight 0 = padding).
        mask: optional boolean (batch, ...) tensor, True at the real tokens
            (a Keras mask, or ``labels != -100``).

    Returns:
        A float32 scalar.

    Example:
        ```python
        # (batch, steps, vocab) logits; True at the completion tokens.
        loss = gkd_loss(teacher_logits, student_logits, beta=0.5, mask=labels != -100)
        ```

    Reference:
        Agarwal, Vieillard, Zhou, Stanczyk, Ramos, Geist, Bachem, "On-Policy
        Distillation of Language Models: Learning from Self-Generated
        Mistakes", ICLR 2024.
    """
    beta = beta_value("beta", beta)
    temperature = temperature_value("temperature", temperature)
    teacher_logits = tf.convert_to_tensor(teacher_logits)
    student_logits = tf.convert_to_tensor(student_logits)
    if teacher_logits.shape != student_logits.shape or teacher_logits.shape.rank < 2:
        raise ValueError(
            "`teacher_logits` and `student_logits` must have one shape (batch, ..., vocab) "
            "(teacher and student share the vocabulary). Received: teacher_logits shape "
            f"{tuple(teacher_logits.shape)}, student_logits shape {tuple(student_logits.shape)}"
        )
    per_position = gkd_per_position(teacher_logits, student_logits, beta, temperature)
    return batch_mean(per_position, sample_weight, mask)


def forward_kl_loss(teacher_logits, student_logits, temperature=1.0, sample_weight=None, mask=None):
    """``KL(teacher || student)`` per token, averaged over real tokens: `gkd_loss` at beta = 0.

    Forward KL, mean seeking: the student spreads its mass over every token the
    teacher deems likely (the usual distillation KL, without ``T^2``).

    Args:
        teacher_logits: (batch, ..., vocab) teacher logits.
        student_logits: student logits of the same shape.
        temperature: T in (0, 1000]; no ``T^2`` factor is applied.
        sample_weight: optional (batch,) sample weights or per-token weights.
        mask: optional boolean (batch, ...) tensor, True at the real tokens.

    Returns:
        A float32 scalar.

    Example:
        ```python
        loss = forward_kl_loss(teacher_logits, student_logits, mask=labels != -100)
        ```

    Reference:
        Agarwal et al., "On-Policy Distillation of Language Models: Learning
        from Self-Generated Mistakes", ICLR 2024 (the GKD divergences).
    """
    return gkd_loss(teacher_logits, student_logits, 0.0, temperature, sample_weight, mask)


def reverse_kl_loss(teacher_logits, student_logits, temperature=1.0, sample_weight=None, mask=None):
    """``KL(student || teacher)`` per token, averaged over real tokens: `gkd_loss` at beta = 1.

    Reverse KL, mode seeking: the student is penalized for mass where the
    teacher has little, and may drop some of the teacher's modes.

    Args:
        teacher_logits: (batch, ..., vocab) teacher logits.
        student_logits: student logits of the same shape.
        temperature: T in (0, 1000]; no ``T^2`` factor is applied.
        sample_weight: optional (batch,) sample weights or per-token weights.
        mask: optional boolean (batch, ...) tensor, True at the real tokens.

    Returns:
        A float32 scalar.

    Example:
        ```python
        loss = reverse_kl_loss(teacher_logits, student_logits, mask=labels != -100)
        ```

    Reference:
        Agarwal et al., "On-Policy Distillation of Language Models: Learning
        from Self-Generated Mistakes", ICLR 2024 (the GKD divergences).
    """
    return gkd_loss(teacher_logits, student_logits, 1.0, temperature, sample_weight, mask)
