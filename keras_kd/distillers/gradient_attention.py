"""Gradient-based attention transfer."""

import keras

from keras_kd.distillers._terms import Term, register_term
from keras_kd.distillers.base import INPUT_GRADIENT_KEY, Distiller, method_arguments
from keras_kd.losses.attention import gradient_attention_loss


@register_term
class GradientAttentionTerm(Term):
    """``gradient_attention_loss(J_T, J_S) / 2`` (the paper's beta/2), J the
    input gradient of each network's summed per-sample cross-entropy. The
    student's gradient is taken inside the training tape, so the term trains
    the student through a second-order gradient."""

    name = "gradient_at"
    uses_logits = True
    uses_input_gradient = True

    def __init__(self, weight=1000.0):
        super().__init__(weight)

    def __call__(self, teacher, student, y, sample_weight):
        return 0.5 * gradient_attention_loss(
            teacher[INPUT_GRADIENT_KEY], student[INPUT_GRADIENT_KEY], sample_weight
        )

    def get_config(self):
        return {"weight": self.weight}


@keras.saving.register_keras_serializable(package="keras_kd")
class GradientAttentionTransfer(Distiller):
    """Gradient-based AT: ``task_weight * CE + feature_weight * gradient AT``.

    No layers are tapped; student and teacher must take inputs of the same
    shape.

    Args:
        student, teacher: models returning logits.
        feature_weight: beta; it multiplies ``gradient_attention_loss / 2``.
        task_weight, kd_weight, temperature: see `Distiller`.

    Reference:
        Zagoruyko & Komodakis, "Paying More Attention to Attention", ICLR 2017.
    """

    def __init__(
        self,
        student,
        teacher,
        feature_weight=1000.0,
        task_weight=1.0,
        kd_weight=0.0,
        temperature=4.0,
        **kwargs,
    ):
        super().__init__(**method_arguments(locals()))

    def method_terms(self, feature_weight):
        return [GradientAttentionTerm(feature_weight)]
