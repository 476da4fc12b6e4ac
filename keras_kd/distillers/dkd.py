"""Decoupled knowledge distillation (DKD)."""

import keras
import tensorflow as tf

from keras_kd._checks import non_negative_float, non_negative_int, temperature_value
from keras_kd.distillers._terms import Term, register_term
from keras_kd.distillers.base import Distiller
from keras_kd.features import OUTPUT_KEY
from keras_kd.losses.dkd import dkd_loss


@register_term
class DKDTerm(Term):
    """Decoupled KD: ``ramp * dkd_loss(t, s, y, T, alpha, beta)``.

    ``ramp`` rises linearly from ``1 / warmup_epochs`` in the first epoch to 1
    (the authors' warm-up: ``min(epoch / warmup, 1)`` with epochs counted from 1).

    Args:
        weight: the term's weight in the total loss.
        temperature: T in (0, 1000].
        alpha: TCKD (target-class) weight.
        beta: NCKD (non-target-class) weight.
        warmup_epochs: epochs over which the ramp rises to 1 (0: none).
        logit_standardization: z-score each sample's logits first.

    Example:
        ```python
        Distiller(student, teacher, terms=[DKDTerm(1.0, beta=2.0, warmup_epochs=5)])
        ```

    Reference:
        Zhao, Cui, Song, Qiu, Liang, "Decoupled Knowledge Distillation", CVPR 2022.
    """

    name = "dkd"
    uses_logits = True
    uses_class_labels = True

    def __init__(
        self,
        weight=1.0,
        temperature=4.0,
        alpha=1.0,
        beta=8.0,
        warmup_epochs=20,
        logit_standardization=False,
    ):
        super().__init__(weight)
        self.temperature = temperature_value("temperature", temperature)
        self.alpha = non_negative_float("alpha", alpha)
        self.beta = non_negative_float("beta", beta)
        self.warmup_epochs = non_negative_int("warmup_epochs", warmup_epochs)
        self.logit_standardization = bool(logit_standardization)
        self.epochs_done = None

    def bind(self, distiller):
        """Checks the model has >= 2 classes and reads the distiller's epoch counter.

        Args:
            distiller: the `Distiller` the term belongs to.

        Raises:
            ValueError: the student has a single output (use KD for it).
        """
        if distiller.logits_shape[-1] < 2:
            raise ValueError(
                "DKD splits the classes into the target and the others, so it needs a model "
                "with at least 2 outputs; use KD for a single-logit binary classifier. "
                f"Received: a student with {distiller.logits_shape[-1]} output"
            )
        self.epochs_done = distiller.main_epochs_done

    def ramp(self):
        """The warm-up factor of the current epoch, ``min((epochs done + 1) / warmup_epochs, 1)``.

        Returns:
            A float32 scalar tensor (1.0 without warm-up).
        """
        if not self.warmup_epochs:
            return 1.0
        epoch = tf.cast(self.epochs_done, tf.float32) + 1.0
        return tf.minimum(epoch / float(self.warmup_epochs), 1.0)

    def __call__(self, teacher, student, y, sample_weight):
        loss = dkd_loss(
            teacher[OUTPUT_KEY],
            student[OUTPUT_KEY],
            y,
            self.temperature,
            self.alpha,
            self.beta,
            sample_weight,
            standardize=self.logit_standardization,
        )
        return self.ramp() * loss


@keras.saving.register_keras_serializable(package="keras_kd")
class DKD(Distiller):
    """Decoupled KD: ``task_weight * CE + feature_weight * ramp * DKD``.

    DKD weighs KD's target-class part (TCKD, ``alpha``) and non-target part
    (NCKD, ``beta``) independently (`keras_kd.losses.dkd_loss`); the DKD term
    is ramped up linearly over ``warmup_epochs``. The defaults are the
    authors' CIFAR-100 settings (mdistiller ``engine/cfg.py``: CE 1, alpha 1,
    beta 8, T 4, 20 warm-up epochs of 240); its per-pair configs
    (``configs/cifar100/dkd``) lower beta to 2 (ResNet-56 -> ResNet-20) or 6
    for some pairs.

    Args:
        student: the student, a functional or Sequential model returning logits.
        teacher: the teacher, a model returning logits of the same shape (at least 2 classes).
        alpha: TCKD weight.
        beta: NCKD weight.
        temperature: T of the DKD term (and of an added KD term).
        warmup_epochs: epochs over which the DKD weight rises to 1 (0: none).
        feature_weight: overall DKD weight.
        logit_standardization: z-score the logits before the softmax (Sun et
            al., CVPR 2024), in the DKD and any KD term.
        task_weight: weight of the cross-entropy on the labels.
        kd_weight: weight of an added Hinton KD term (0: none).
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``check_finite``, ``name``).

    Example:
        ```python
        dkd = DKD(student, teacher, beta=2.0, warmup_epochs=2)
        dkd.compile(optimizer="adam", metrics=["accuracy"])
        dkd.fit(train, epochs=10)
        ```

    Reference:
        Zhao, Cui, Song, Qiu, Liang, "Decoupled Knowledge Distillation", CVPR 2022.
    """

    method_term = DKDTerm

    def __init__(
        self,
        student,
        teacher,
        alpha=1.0,
        beta=8.0,
        temperature=4.0,
        warmup_epochs=20,
        feature_weight=1.0,
        logit_standardization=False,
        task_weight=1.0,
        kd_weight=0.0,
        **kwargs,
    ):
        super().__init__(student, teacher, **kwargs)
