"""Hinton knowledge distillation on the Distiller template."""

import keras

from keras_kd.distillers.base import Distiller


@keras.saving.register_keras_serializable(package="keras_kd")
class KD(Distiller):
    """Hinton KD: ``task_weight * CE(y, s) + kd_weight * kd_loss(t, s, T)``.

    `kd_loss` applies the softmax at temperature T to both logits and the
    ``T^2`` factor. The defaults (T = 4, CE 0.1, KD 0.9) are the CIFAR
    settings of RepDistiller. A single-logit binary classifier gets the
    binary cross-entropy and the KL between softened Bernoulli outputs.

    Args:
        student: the student, a functional or Sequential model returning logits.
        teacher: the teacher, a model returning logits of the same shape.
        temperature: softmax temperature T in (0, 1000] (usually 1 to 20; 4 on CIFAR).
        task_weight: weight of the cross-entropy on the labels.
        kd_weight: weight of the KD term.
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``logit_standardization``, ``check_finite``, ``name``).

    Example:
        ```python
        distiller = keras_kd.distillers.KD(student=student, teacher=teacher)
        distiller.compile(optimizer="adam", metrics=["accuracy"])
        distiller.fit(train, epochs=10, validation_data=val)
        distiller.student.save("student.keras")
        ```

    Reference:
        Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network", 2015.
    """

    def __init__(self, student, teacher, temperature=4.0, task_weight=0.1, kd_weight=0.9, **kwargs):
        super().__init__(student, teacher, **kwargs)
