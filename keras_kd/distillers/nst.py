"""Neuron selectivity transfer."""

import keras

from keras_kd.distillers._terms import Term, check_pairs_alignable, register_term
from keras_kd.distillers.base import Distiller, method_arguments
from keras_kd.losses.nst import nst_loss


@register_term
class NSTTerm(Term):
    """``sum over pairs of nst_loss(t, s)`` (squared MMD, polynomial kernel)."""

    name = "nst"
    pairs_required = (1, None)

    def __init__(self, weight=50.0, student_layers=None, teacher_layers=None):
        super().__init__(weight, student_layers, teacher_layers)

    def build(self, shapes):
        check_pairs_alignable(self, shapes)

    def __call__(self, teacher, student, y, sample_weight):
        return sum(nst_loss(teacher[t], student[s], sample_weight) for s, t in self.pairs)


@keras.saving.register_keras_serializable(package="keras_kd")
class NST(Distiller):
    """NST: ``task_weight * CE + feature_weight * sum over pairs of nst_loss``.

    Args:
        student, teacher: models returning logits.
        student_layers, teacher_layers: tap pairs (4-D maps; channels may
            differ; sizes are aligned by average pooling).
        feature_weight: MMD weight (50 in RepDistiller's CIFAR runs).
        task_weight, kd_weight, temperature: see `Distiller`.

    Reference:
        Huang & Wang, "Like What You Like: Knowledge Distill via Neuron
        Selectivity Transfer", 2017.
    """

    def __init__(
        self,
        student,
        teacher,
        student_layers,
        teacher_layers,
        feature_weight=50.0,
        task_weight=1.0,
        kd_weight=0.0,
        temperature=4.0,
        **kwargs,
    ):
        super().__init__(**method_arguments(locals()))

    def method_terms(self, student_layers, teacher_layers, feature_weight):
        return [NSTTerm(feature_weight, student_layers, teacher_layers)]
