"""WTTM: weighted transformed teacher matching (Zheng & Yang, ICLR 2024)."""

import keras
import tensorflow as tf

from keras_kd._checks import positive_float
from keras_kd.distillers._terms import Term, register_term
from keras_kd.distillers.base import Distiller
from keras_kd.features import OUTPUT_KEY
from keras_kd.losses._reduce import batch_mean


def wttm_loss(teacher_logits, student_logits, gamma=0.2, sample_weight=None):
    """WTTM loss between teacher and student logits (class axis last).

    The teacher's distribution ``p_t = softmax(z_t)`` is power-transformed,
    ``q = p_t^gamma / U``, with ``U = sum_j p_t[j]^gamma``, and the student
    matches it without a temperature of its own:

    ``loss = mean_i U_i * KL(q_i || softmax(z_s)_i)``

    ``q`` equals ``softmax(gamma * z_t)``: the teacher at temperature
    ``1 / gamma``, the student at 1 (TTM). ``U`` (the paper's sample-adaptive
    weight) is large for a flat teacher distribution, so samples on which the
    teacher is unsure weigh more. There is no ``T^2`` factor.

    Args:
        teacher_logits: (batch, classes) teacher logits.
        student_logits: (batch, classes) student logits.
        gamma: the power exponent > 0 (1 / temperature; the paper's
            gamma, below 1 on CIFAR-100).
        sample_weight: optional (batch,) weights (``sum(w_i * l_i) / B``).

    Returns:
        A float32 scalar.

    Example:
        ```python
        loss = wttm_loss(teacher(x), student(x), gamma=0.2)
        ```

    Reference:
        Zheng, Yang, "Knowledge Distillation Based on Transformed Teacher
        Matching", ICLR 2024; the authors' ``distiller_zoo/wttm.py``.
    """
    gamma = positive_float("gamma", gamma)
    log_p_t = tf.nn.log_softmax(tf.cast(teacher_logits, tf.float32), axis=-1)
    log_q = tf.nn.log_softmax(gamma * log_p_t, axis=-1)
    weight = tf.exp(tf.reduce_logsumexp(gamma * log_p_t, axis=-1))
    log_p_s = tf.nn.log_softmax(tf.cast(student_logits, tf.float32), axis=-1)
    kl = tf.reduce_sum(tf.exp(log_q) * (log_q - log_p_s), axis=-1)
    return batch_mean(weight * kl, sample_weight)


@register_term
class WTTMTerm(Term):
    """WTTM: ``wttm_loss(t, s, gamma)`` on the logits.

    Args:
        weight: the term's weight in the total loss.
        gamma: the teacher's power exponent > 0 (1 / temperature).

    Example:
        ```python
        Distiller(student, teacher, terms=[WTTMTerm(4.0, gamma=0.2)])
        ```

    Reference:
        Zheng, Yang, "Knowledge Distillation Based on Transformed Teacher
        Matching", ICLR 2024.
    """

    name = "wttm"
    uses_logits = True

    def __init__(self, weight=1.0, gamma=0.2):
        super().__init__(weight)
        self.gamma = positive_float("gamma", gamma)

    def bind(self, distiller):
        """Checks the model has >= 2 classes.

        Args:
            distiller: the `Distiller` the term belongs to.

        Raises:
            ValueError: the student has a single output (use KD for it).
        """
        classes = distiller.logits_shape[-1]
        if classes < 2:
            raise ValueError(
                "WTTM matches a softmax distribution over classes, so it needs a model with "
                "at least 2 outputs; use KD for a single-logit binary classifier. "
                f"Received: a student with {classes} output"
            )

    def __call__(self, teacher, student, y, sample_weight):
        return wttm_loss(teacher[OUTPUT_KEY], student[OUTPUT_KEY], self.gamma, sample_weight)


@keras.saving.register_keras_serializable(package="keras_kd")
class WTTM(Distiller):
    """WTTM: ``task_weight * CE + feature_weight * mean_i U_i * KL(q_i || p_s,i)``.

    ``q = p_t^gamma / U`` is the teacher's power-transformed distribution and
    ``U = sum_j p_t[j]^gamma`` the sample-adaptive weight (`wttm_loss`). It
    reads only the teacher's logits, so `keras_kd.cache` can store them.
    Defaults: the authors' README example for WTTM (``--ttm_l 0.2``, weight 4,
    cross-entropy weight 1); their per-pair CIFAR-100 values are in the
    paper's appendix A.4.

    Args:
        student: the student, a functional or Sequential model returning logits.
        teacher: the teacher, a model returning logits of the same shape (at
            least 2 classes).
        gamma: the teacher's power exponent > 0 (1 / temperature).
        feature_weight: the WTTM term's weight (the authors' ``-b``, or ``-a``
            combined with another method).
        task_weight: weight of the cross-entropy on the labels (``-r``).
        kd_weight: weight of an added Hinton KD term (0: none).
        temperature: T of that KD term.
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``check_finite``, ``name``).

    Example:
        ```python
        wttm = WTTM(student, teacher, gamma=0.2)
        wttm.compile(optimizer="adam", metrics=["accuracy"])
        wttm.fit(train, epochs=10)
        ```

    Reference:
        Zheng, Yang, "Knowledge Distillation Based on Transformed Teacher
        Matching", ICLR 2024.
    """

    method_term = WTTMTerm

    def __init__(
        self,
        student,
        teacher,
        gamma=0.2,
        feature_weight=4.0,
        task_weight=1.0,
        kd_weight=0.0,
        temperature=4.0,
        **kwargs,
    ):
        super().__init__(student, teacher, **kwargs)
