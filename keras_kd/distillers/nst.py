"""Neuron selectivity transfer."""

import keras

from keras_kd.distillers._pairs import check_pairs_alignable, pairs, require_pairs
from keras_kd.distillers.base import Distiller
from keras_kd.features import OUTPUT_KEY
from keras_kd.losses.nst import nst_loss


@keras.saving.register_keras_serializable(package="keras_kd")
class NST(Distiller):
    """NST: ``task_weight * CE + distill_weight * sum over pairs of nst_loss``.

    Args:
        student, teacher: functional models returning logits.
        student_layers, teacher_layers: tap pairs (4-D maps; channels may
            differ; sizes are aligned by average pooling).
        task_weight: cross-entropy weight.
        distill_weight: MMD weight (50 in RepDistiller's CIFAR runs).

    Reference:
        Huang & Wang, "Like What You Like: Knowledge Distill via Neuron
        Selectivity Transfer", 2017.
    """

    TERMS = ("task", "nst")

    def __init__(
        self,
        student,
        teacher,
        student_layers,
        teacher_layers,
        task_weight=1.0,
        distill_weight=50.0,
        **kwargs,
    ):
        super().__init__(
            student,
            teacher,
            task_weight=task_weight,
            distill_weight=distill_weight,
            student_layers=student_layers,
            teacher_layers=teacher_layers,
            **kwargs,
        )
        require_pairs(self)
        check_pairs_alignable(self)

    @property
    def loss_weights(self):
        return {"task": self.task_weight, "nst": self.distill_weight}

    def compute_losses(self, x, y, sample_weight, teacher_out, student_out):
        return {
            "task": self.task_loss(y, student_out[OUTPUT_KEY], sample_weight),
            "nst": sum(
                nst_loss(teacher_out[t], student_out[s], sample_weight) for s, t in pairs(self)
            ),
        }
