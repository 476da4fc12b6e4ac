"""Relational knowledge distillation."""

import keras

from keras_kd._checks import non_negative_float
from keras_kd.distillers._terms import Term, register_term
from keras_kd.distillers.base import Distiller
from keras_kd.losses.rkd import rkd_loss


@register_term
class RKDTerm(Term):
    """Relational KD: ``rkd_loss(t, s, distance_weight, angle_weight)`` on one embedding pair.

    Embeddings are flattened per sample. The loss is relational (pairs and
    triples of the batch), so sample weights do not apply to it.

    Args:
        weight: the term's weight in the total loss.
        student_layers: one student embedding layer (e.g. ``["pool"]``).
        teacher_layers: one teacher embedding layer.
        distance_weight: weight of the distance term (25 in the paper).
        angle_weight: weight of the angle term (50 in the paper).

    Example:
        ```python
        Distiller(student, teacher, terms=[RKDTerm(1.0, ["pool"], ["pool"])])
        ```

    Reference:
        Park, Kim, Lu, Cho, "Relational Knowledge Distillation", CVPR 2019.
    """

    name = "rkd"
    pairs_required = (1, 1)

    def __init__(
        self,
        weight=1.0,
        student_layers=None,
        teacher_layers=None,
        distance_weight=25.0,
        angle_weight=50.0,
    ):
        super().__init__(weight, student_layers, teacher_layers)
        self.distance_weight = non_negative_float("distance_weight", distance_weight)
        self.angle_weight = non_negative_float("angle_weight", angle_weight)

    def __call__(self, teacher, student, y, sample_weight):
        ((s, t),) = self.pairs
        return rkd_loss(teacher[t], student[s], self.distance_weight, self.angle_weight)


@keras.saving.register_keras_serializable(package="keras_kd")
class RKD(Distiller):
    """RKD: ``task_weight * CE + feature_weight * rkd_loss`` on embeddings.

    Args:
        student: the student, a functional or Sequential model returning logits.
        teacher: the teacher, a model returning logits of the same shape.
        student_layers: one student embedding layer (typically the penultimate
            vector, e.g. ``["pool"]``); its width may differ from the teacher's.
        teacher_layers: one teacher embedding layer.
        feature_weight: overall RKD weight (1 in RepDistiller).
        distance_weight: weight of the distance term (25 in the paper).
        angle_weight: weight of the angle term (50 in the paper).
        task_weight: weight of the cross-entropy on the labels.
        kd_weight: weight of an added Hinton KD term (0: none).
        temperature: T of the KD term, in (0, 1000].
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``logit_standardization``, ``check_finite``, ``name``).

    Example:
        ```python
        rkd = RKD(student, teacher, ["pool"], ["pool"])
        rkd.compile(optimizer="adam", metrics=["accuracy"])
        rkd.fit(train, epochs=10)
        ```

    Reference:
        Park, Kim, Lu, Cho, "Relational Knowledge Distillation", CVPR 2019.
    """

    method_term = RKDTerm

    def __init__(
        self,
        student,
        teacher,
        student_layers,
        teacher_layers,
        feature_weight=1.0,
        distance_weight=25.0,
        angle_weight=50.0,
        task_weight=1.0,
        kd_weight=0.0,
        temperature=4.0,
        **kwargs,
    ):
        super().__init__(student, teacher, **kwargs)
