"""Hinton knowledge distillation on the Distiller template."""

import keras

from keras_kd._checks import positive_float
from keras_kd.distillers.base import Distiller
from keras_kd.features import OUTPUT_KEY
from keras_kd.losses.kd import kd_loss


@keras.saving.register_keras_serializable(package="keras_kd")
class KD(Distiller):
    """Hinton KD: ``task_weight * CE(y, s) + distill_weight * kd_loss(t, s, T)``.

    `kd_loss` applies the softmax at temperature T to both logits and the
    ``T^2`` factor. The defaults (T = 4, CE 0.1, KD 0.9) are the CIFAR
    settings of RepDistiller.

    Args:
        student: functional student model returning logits.
        teacher: functional teacher model returning logits.
        temperature: softmax temperature T > 0.
        task_weight: weight of the cross-entropy term.
        distill_weight: weight of the KD term.
        **kwargs: passed to `Distiller`.

    Example:
        >>> distiller = keras_kd.distillers.KD(student=student, teacher=teacher)
        >>> distiller.compile(optimizer="adam", metrics=["accuracy"])
        >>> distiller.fit(train_ds, epochs=10)
        >>> distiller.student.save("student.keras")

    Reference:
        Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network", 2015.
    """

    TERMS = ("task", "kd")

    def __init__(
        self,
        student,
        teacher,
        temperature=4.0,
        task_weight=0.1,
        distill_weight=0.9,
        **kwargs,
    ):
        self.temperature = positive_float("temperature", temperature)
        super().__init__(
            student,
            teacher,
            task_weight=task_weight,
            distill_weight=distill_weight,
            **kwargs,
        )

    @property
    def loss_weights(self):
        return {"task": self.task_weight, "kd": self.distill_weight}

    def compute_losses(self, x, y, sample_weight, teacher_out, student_out):
        logits_t, logits_s = teacher_out[OUTPUT_KEY], student_out[OUTPUT_KEY]
        return {
            "task": self.task_loss(y, logits_s, sample_weight),
            "kd": kd_loss(logits_t, logits_s, self.temperature, sample_weight),
        }

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}
