"""Gradient-based attention transfer."""

import keras

from keras_kd._checks import bool_value
from keras_kd.distillers._terms import Term, register_term
from keras_kd.distillers.base import INPUT_GRADIENT_KEY, Distiller
from keras_kd.losses.attention import gradient_attention_loss


@register_term
class GradientAttentionTerm(Term):
    """Gradient-based attention: ``gradient_attention_loss(J_T, J_S) / 2`` (the paper's beta/2).

    J is the input gradient of each network's summed per-sample cross-entropy.
    The student's gradient is taken inside the training tape, so the term
    trains the student through a second-order gradient. It taps no layer.

    Args:
        weight: beta, the term's weight.
        normalize: compare unit-norm input gradients (not in the paper; see
            `keras_kd.losses.gradient_attention_loss`).

    Example:
        ```python
        Distiller(student, teacher, terms=[GradientAttentionTerm(200.0)])
        ```

    Reference:
        Zagoruyko & Komodakis, "Paying More Attention to Attention", ICLR 2017.
    """

    name = "gradient_at"
    uses_logits = True
    uses_input_gradient = True

    def __init__(self, weight=1000.0, normalize=False):
        super().__init__(weight)
        self.normalize = bool_value("normalize", normalize)

    def __call__(self, teacher, student, y, sample_weight):
        return 0.5 * gradient_attention_loss(
            teacher[INPUT_GRADIENT_KEY],
            student[INPUT_GRADIENT_KEY],
            sample_weight,
            normalize=self.normalize,
        )


@keras.saving.register_keras_serializable(package="keras_kd")
class GradientAttentionTransfer(Distiller):
    """Gradient-based AT: ``task_weight * CE + feature_weight * gradient AT``.

    No layers are tapped; student and teacher must take inputs of the same
    shape. Each step costs about two passes per network (a second-order term).

    Args:
        student: the student, a functional or Sequential model returning logits.
        teacher: the teacher, a model returning logits of the same shape.
        feature_weight: beta; it multiplies ``gradient_attention_loss / 2``.
        normalize: compare unit-norm input gradients instead of the raw ones
            (not in the paper; see `keras_kd.losses.gradient_attention_loss`).
        task_weight: weight of the cross-entropy on the labels.
        kd_weight: weight of an added Hinton KD term (0: none).
        temperature: T of the KD term, in (0, 1000].
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``logit_standardization``, ``check_finite``, ``name``).

    Example:
        ```python
        gat = GradientAttentionTransfer(student, teacher, feature_weight=200.0)
        gat.compile(optimizer="adam", metrics=["accuracy"])
        gat.fit(train, epochs=10)
        ```

    Reference:
        Zagoruyko & Komodakis, "Paying More Attention to Attention", ICLR 2017.
    """

    method_term = GradientAttentionTerm

    def __init__(
        self,
        student,
        teacher,
        feature_weight=1000.0,
        normalize=False,
        task_weight=1.0,
        kd_weight=0.0,
        temperature=4.0,
        **kwargs,
    ):
        super().__init__(student, teacher, **kwargs)
