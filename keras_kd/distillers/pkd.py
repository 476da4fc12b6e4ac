"""PKD: Pearson-correlation feature imitation (detectors, dense prediction)."""

import keras

from keras_kd._checks import bool_value
from keras_kd.distillers._terms import Term, register_term
from keras_kd.distillers.base import Distiller
from keras_kd.losses.pkd import check_maps, pkd_loss


@register_term
class PKDTerm(Term):
    """PKD: ``sum over pairs of pkd_loss(t, s)`` on tapped feature maps.

    Each channel of both maps is standardized over the batch and its
    positions, then matched by half the mean squared difference: the
    student imitates the teacher's feature relations (their Pearson
    correlation), not their magnitudes. Taps are named layers, e.g. the
    levels of a feature pyramid; each pair needs the same channels (sizes may
    differ: the student's map is resized to the teacher's).

    Args:
        weight: the term's weight in the total loss (6 in mmrazor's PKD
            detection configs).
        student_layers: tapped student layers (one per pyramid level).
        teacher_layers: the matching teacher layers (same length).
        resize_student: resize the student's map to the teacher's size (the
            authors' default), else the teacher's to the student's.

    Example:
        ```python
        Distiller(student, teacher, terms=[PKDTerm(6.0, ["p3", "p4"], ["p3", "p4"])])
        ```

    Reference:
        Cao, Liu, Zhang, Wang, Chen, Luo, "PKD: General Distillation Framework
        for Object Detectors via Pearson Correlation Coefficient", NeurIPS 2022.
    """

    name = "pkd"
    pairs_required = (1, None)

    def __init__(self, weight=6.0, student_layers=None, teacher_layers=None, resize_student=True):
        super().__init__(weight, student_layers, teacher_layers)
        self.resize_student = bool_value("resize_student", resize_student)

    def build(self, shapes):
        for s, t in self.pairs:
            try:
                check_maps(shapes("teacher", t), shapes("student", s))
            except ValueError as err:
                raise ValueError(f"PKD pair (student {s!r}, teacher {t!r}): {err}") from None

    def __call__(self, teacher, student, y, sample_weight):
        return sum(
            pkd_loss(teacher[t], student[s], self.resize_student, sample_weight)
            for s, t in self.pairs
        )


@keras.saving.register_keras_serializable(package="keras_kd")
class PKD(Distiller):
    """PKD: ``task_weight * task loss + feature_weight * sum over pairs of pkd_loss``.

    Args:
        student: the student, a functional or Sequential Keras model.
        teacher: the teacher, a model with the student's output shape.
        student_layers: tapped student layers (e.g. feature-pyramid levels).
        teacher_layers: the matching teacher layers (same channels).
        feature_weight: the PKD term's weight (6 in mmrazor's configs).
        resize_student: resize each student map to the teacher's size.
        task_weight: weight of the task loss (the compiled one, or the
            cross-entropy on class labels).
        kd_weight: weight of an added Hinton KD term on the logits (0: none).
        temperature: T of that KD term.
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``check_finite``, ``name``).

    Example:
        ```python
        pkd = PKD(student, teacher, ["neck_p3", "neck_p4"], ["neck_p3", "neck_p4"])
        pkd.compile(optimizer="adam", loss=my_detection_loss)
        pkd.fit(train, epochs=10)
        ```

    Reference:
        Cao, Liu, Zhang, Wang, Chen, Luo, "PKD: General Distillation Framework
        for Object Detectors via Pearson Correlation Coefficient", NeurIPS
        2022; mmrazor's ``PKDLoss``.
    """

    method_term = PKDTerm

    def __init__(
        self,
        student,
        teacher,
        student_layers,
        teacher_layers,
        feature_weight=6.0,
        resize_student=True,
        task_weight=1.0,
        kd_weight=0.0,
        temperature=4.0,
        **kwargs,
    ):
        super().__init__(student, teacher, **kwargs)
