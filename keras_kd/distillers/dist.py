"""DIST: distillation from a stronger teacher through prediction relations."""

import keras

from keras_kd._checks import non_negative_float, temperature_value
from keras_kd.distillers._terms import Term, register_term
from keras_kd.distillers.base import Distiller
from keras_kd.features import OUTPUT_KEY
from keras_kd.losses._reduce import padding_mask
from keras_kd.losses.dist import dist_loss


@register_term
class DISTTerm(Term):
    """DIST: ``dist_loss(t, s, tau, inter_weight, intra_weight)`` on the logits.

    Inter-class and intra-class Pearson relations of the softened predictions
    (batch-level, so sample weights do not apply; with logits per position,
    padding positions are left out).

    Args:
        weight: the term's weight in the total loss.
        temperature: tau in (0, 1000].
        inter_weight: beta, the inter-class relation weight.
        intra_weight: gamma, the intra-class relation weight.

    Example:
        ```python
        Distiller(student, teacher, terms=[DISTTerm(2.0, temperature=4.0)])
        ```

    Reference:
        Huang, You, Wang, Qian, Xu, "Knowledge Distillation from A Stronger
        Teacher", NeurIPS 2022.
    """

    name = "dist"
    uses_logits = True

    def __init__(self, weight=1.0, temperature=4.0, inter_weight=1.0, intra_weight=1.0):
        super().__init__(weight)
        self.temperature = temperature_value("temperature", temperature)
        self.inter_weight = non_negative_float("inter_weight", inter_weight)
        self.intra_weight = non_negative_float("intra_weight", intra_weight)

    def __call__(self, teacher, student, y, sample_weight):
        logits = student[OUTPUT_KEY]
        return dist_loss(
            teacher[OUTPUT_KEY],
            logits,
            self.temperature,
            self.inter_weight,
            self.intra_weight,
            mask=padding_mask(sample_weight, logits),
        )


@keras.saving.register_keras_serializable(package="keras_kd")
class DIST(Distiller):
    """DIST: ``task_weight * CE + feature_weight * (beta * inter + gamma * intra)``.

    Args:
        student: the student, a functional or Sequential model returning logits.
        teacher: the teacher, a model returning logits of the same shape.
        inter_weight: beta, the inter-class (per sample) relation weight.
        intra_weight: gamma, the intra-class (per class, across the batch)
            relation weight.
        temperature: tau of the softened predictions (and of an added KD term).
        feature_weight: overall DIST weight.
        task_weight: weight of the cross-entropy on the labels.
        kd_weight: weight of an added Hinton KD term (0: none).
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``logit_standardization``, ``check_finite``, ``name``).

    Example:
        ```python
        dist = DIST(student, teacher, temperature=4.0)
        dist.compile(optimizer="adam", metrics=["accuracy"])
        dist.fit(train, epochs=10)
        ```

    Reference:
        Huang, You, Wang, Qian, Xu, "Knowledge Distillation from A Stronger
        Teacher", NeurIPS 2022.
    """

    method_term = DISTTerm

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
        super().__init__(student, teacher, **kwargs)
