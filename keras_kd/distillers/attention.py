"""Activation-based attention transfer."""

import keras

from keras_kd._checks import positive_float
from keras_kd.distillers._terms import Term, check_pairs_alignable, register_term
from keras_kd.distillers.base import Distiller, method_arguments
from keras_kd.losses.attention import attention_transfer_loss


@register_term
class AttentionTerm(Term):
    """``sum over pairs of attention_transfer_loss(t, s, p)`` (maps aligned by
    pooling; channel counts may differ)."""

    name = "at"
    pairs_required = (1, None)

    def __init__(self, weight=1000.0, student_layers=None, teacher_layers=None, p=2.0):
        super().__init__(weight, student_layers, teacher_layers)
        self.p = positive_float("p", p)

    def build(self, shapes):
        check_pairs_alignable(self, shapes)

    def __call__(self, teacher, student, y, sample_weight):
        return sum(
            attention_transfer_loss(teacher[t], student[s], self.p, sample_weight)
            for s, t in self.pairs
        )

    def get_config(self):
        return {**super().get_config(), "p": self.p}


@keras.saving.register_keras_serializable(package="keras_kd")
class AttentionTransfer(Distiller):
    """Attention transfer: ``task_weight * CE + feature_weight * sum_pairs AT``.

    Args:
        student, teacher: models returning logits.
        student_layers, teacher_layers: tap pairs (usually one per stage).
        feature_weight: beta (1000 in the paper and RepDistiller).
        p: attention exponent.
        task_weight, kd_weight, temperature: see `Distiller`.

    Reference:
        Zagoruyko & Komodakis, "Paying More Attention to Attention", ICLR 2017.
    """

    def __init__(
        self,
        student,
        teacher,
        student_layers,
        teacher_layers,
        feature_weight=1000.0,
        p=2.0,
        task_weight=1.0,
        kd_weight=0.0,
        temperature=4.0,
        **kwargs,
    ):
        super().__init__(**method_arguments(locals()))

    def method_terms(self, student_layers, teacher_layers, feature_weight, p):
        return [AttentionTerm(feature_weight, student_layers, teacher_layers, p)]
