"""DIST: distillation from a stronger teacher through prediction relations."""

import keras

from keras_kd._checks import non_negative_float, temperature_value
from keras_kd.distillers._terms import Term, register_term
from keras_kd.distillers.base import Distiller, method_arguments
from keras_kd.features import OUTPUT_KEY
from keras_kd.losses.dist import dist_loss


@register_term
class DISTTerm(Term):
    """``dist_loss(t, s, tau, inter_weight, intra_weight)``: inter-class and
    intra-class Pearson relations of the softened predictions (batch-level, so
    sample weights do not apply)."""

    name = "dist"
    uses_logits = True

    def __init__(self, weight=1.0, temperature=4.0, inter_weight=1.0, intra_weight=1.0):
        super().__init__(weight)
        self.temperature = temperature_value("temperature", temperature)
        self.inter_weight = non_negative_float("inter_weight", inter_weight)
        self.intra_weight = non_negative_float("intra_weight", intra_weight)

    def __call__(self, teacher, student, y, sample_weight):
        return dist_loss(
            teacher[OUTPUT_KEY],
            student[OUTPUT_KEY],
            self.temperature,
            self.inter_weight,
            self.intra_weight,
        )

    def get_config(self):
        return {
            "weight": self.weight,
            "temperature": self.temperature,
            "inter_weight": self.inter_weight,
            "intra_weight": self.intra_weight,
        }


@keras.saving.register_keras_serializable(package="keras_kd")
class DIST(Distiller):
    """DIST: ``task_weight * CE + feature_weight * (beta * inter + gamma * intra)``.

    Args:
        student, teacher: models returning logits.
        inter_weight: beta, the inter-class (per sample) relation weight.
        intra_weight: gamma, the intra-class (per class, across the batch)
            relation weight.
        temperature: tau of the softened predictions.
        feature_weight: overall DIST weight.
        task_weight, kd_weight: see `Distiller`.

    Reference:
        Huang, You, Wang, Qian, Xu, "Knowledge Distillation from A Stronger
        Teacher", NeurIPS 2022.
    """

    def __init__(
        self,
        student,
        teacher,
        inter_weight=1.0,
        intra_weight=1.0,
        temperature=4.0,
        feature_weight=2.0,
        task_weight=1.0,
        kd_weight=0.0,
        **kwargs,
    ):
        super().__init__(**method_arguments(locals()))

    def method_terms(self, inter_weight, intra_weight, feature_weight, temperature):
        return [DISTTerm(feature_weight, temperature, inter_weight, intra_weight)]
