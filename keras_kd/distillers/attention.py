"""Activation-based attention transfer."""

import keras

from keras_kd._checks import positive_float
from keras_kd.distillers._terms import Term, check_pairs_alignable, register_term
from keras_kd.distillers.base import Distiller
from keras_kd.losses.attention import attention_transfer_loss


@register_term
class AttentionTerm(Term):
    """Attention transfer on tap pairs: ``sum over pairs of attention_transfer_loss(t, s, p)``.

    Maps of different sizes are aligned by average-pooling the larger; channel
    counts may differ. Tap the post-activation outputs of stages (e.g. ``stage1``..``stage3``).

    Args:
        weight: the term's weight in the total loss (1000 in the paper and RepDistiller).
        student_layers: names of the tapped student layers.
        teacher_layers: names of the matching teacher layers (same length).
        p: the attention exponent (2 in the paper).

    Example:
        ```python
        term = AttentionTerm(1000.0, ["stage2", "stage3"], ["stage2", "stage3"])
        Distiller(student, teacher, kd_weight=0.9, task_weight=0.1, terms=[term])
        ```

    Reference:
        Zagoruyko & Komodakis, "Paying More Attention to Attention", ICLR 2017.
    """

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


@keras.saving.register_keras_serializable(package="keras_kd")
class AttentionTransfer(Distiller):
    """Attention transfer: ``task_weight * CE + feature_weight * sum_pairs AT``.

    Args:
        student: the student, a functional or Sequential model returning logits.
        teacher: the teacher, a model returning logits of the same shape.
        student_layers: tapped student layers (usually one per stage, after its
            ReLU); sizes are aligned by average pooling, channels may differ.
        teacher_layers: the matching teacher layers (same length).
        feature_weight: beta (1000 in the paper and RepDistiller).
        p: attention exponent (2 in the paper).
        task_weight: weight of the cross-entropy on the labels.
        kd_weight: weight of an added Hinton KD term (0: none).
        temperature: T of the KD term, in (0, 1000].
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``logit_standardization``, ``check_finite``, ``name``).

    Example:
        ```python
        at = AttentionTransfer(student, teacher, ["stage1", "stage2", "stage3"],
                               ["stage1", "stage2", "stage3"])
        at.compile(optimizer="adam", metrics=["accuracy"])
        at.fit(train, epochs=10)
        ```

    Reference:
        Zagoruyko & Komodakis, "Paying More Attention to Attention", ICLR 2017.
    """

    method_term = AttentionTerm

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
        super().__init__(student, teacher, **kwargs)
