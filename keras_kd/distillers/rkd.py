"""Relational knowledge distillation."""

import keras

from keras_kd._checks import non_negative_float
from keras_kd.distillers._pairs import require_pairs
from keras_kd.distillers.base import Distiller
from keras_kd.features import OUTPUT_KEY
from keras_kd.losses.rkd import rkd_loss


@keras.saving.register_keras_serializable(package="keras_kd")
class RKD(Distiller):
    """RKD: ``task_weight * CE + distill_weight * rkd_loss`` on embeddings.

    The embeddings are one tapped layer of each network (typically the
    penultimate vector, e.g. ``pool``), flattened per sample. The loss is
    relational (pairs and triples of the batch), so sample weights apply to
    the cross-entropy only.

    Args:
        student, teacher: functional models returning logits.
        student_layers, teacher_layers: one embedding layer each.
        distance_weight: weight of the distance term (25 in the paper).
        angle_weight: weight of the angle term (50 in the paper).
        task_weight: cross-entropy weight.
        distill_weight: overall RKD weight (1 in RepDistiller).

    Reference:
        Park, Kim, Lu, Cho, "Relational Knowledge Distillation", CVPR 2019.
    """

    TERMS = ("task", "rkd")

    def __init__(
        self,
        student,
        teacher,
        student_layers,
        teacher_layers,
        distance_weight=25.0,
        angle_weight=50.0,
        task_weight=1.0,
        distill_weight=1.0,
        **kwargs,
    ):
        self.distance_weight = non_negative_float("distance_weight", distance_weight)
        self.angle_weight = non_negative_float("angle_weight", angle_weight)
        super().__init__(
            student,
            teacher,
            task_weight=task_weight,
            distill_weight=distill_weight,
            student_layers=student_layers,
            teacher_layers=teacher_layers,
            **kwargs,
        )
        require_pairs(self, exactly=1)

    @property
    def loss_weights(self):
        return {"task": self.task_weight, "rkd": self.distill_weight}

    def compute_losses(self, x, y, sample_weight, teacher_out, student_out):
        (s,), (t,) = self.student_layers, self.teacher_layers
        return {
            "task": self.task_loss(y, student_out[OUTPUT_KEY], sample_weight),
            "rkd": rkd_loss(
                teacher_out[t], student_out[s], self.distance_weight, self.angle_weight
            ),
        }

    def get_config(self):
        return {
            **super().get_config(),
            "distance_weight": self.distance_weight,
            "angle_weight": self.angle_weight,
        }
