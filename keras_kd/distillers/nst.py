"""Neuron selectivity transfer."""

import keras

from keras_kd.distillers._terms import Term, check_pairs_alignable, register_term
from keras_kd.distillers.base import Distiller
from keras_kd.losses.nst import nst_loss


@register_term
class NSTTerm(Term):
    """Neuron selectivity transfer: ``sum over pairs of nst_loss(t, s)``.

    The squared MMD with a polynomial kernel between the channels' spatial
    distributions; sizes are aligned by average pooling, channels may differ.

    Args:
        weight: the term's weight in the total loss (50 in RepDistiller's CIFAR runs).
        student_layers: names of the tapped student layers.
        teacher_layers: names of the matching teacher layers (same length).

    Example:
        ```python
        Distiller(student, teacher, terms=[NSTTerm(50.0, ["stage3"], ["stage3"])])
        ```

    Reference:
        Huang & Wang, "Like What You Like: Knowledge Distill via Neuron
        Selectivity Transfer", 2017.
    """

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
        student: the student, a functional or Sequential model returning logits.
        teacher: the teacher, a model returning logits of the same shape.
        student_layers: tapped student layers (4-D maps; channels may differ;
            sizes are aligned by average pooling).
        teacher_layers: the matching teacher layers (same length).
        feature_weight: MMD weight (50 in RepDistiller's CIFAR runs).
        task_weight: weight of the cross-entropy on the labels.
        kd_weight: weight of an added Hinton KD term (0: none).
        temperature: T of the KD term, in (0, 1000].
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``logit_standardization``, ``check_finite``, ``name``).

    Example:
        ```python
        nst = NST(student, teacher, ["stage3"], ["stage3"], kd_weight=0.9, task_weight=0.1)
        nst.compile(optimizer="adam", metrics=["accuracy"])
        nst.fit(train, epochs=10)
        ```

    Reference:
        Huang & Wang, "Like What You Like: Knowledge Distill via Neuron
        Selectivity Transfer", 2017.
    """

    method_term = NSTTerm

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
        super().__init__(student, teacher, **kwargs)
