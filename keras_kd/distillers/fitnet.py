"""FitNets: hints from a teacher layer through a trainable regressor."""

import keras

from keras_kd._checks import non_negative_float, one_of, positive_float
from keras_kd.distillers.base import Distiller
from keras_kd.features import OUTPUT_KEY
from keras_kd.layers.connector import build_connector
from keras_kd.losses.hint import hint_loss
from keras_kd.losses.kd import kd_loss


@keras.saving.register_keras_serializable(package="keras_kd")
class FitNet(Distiller):
    """FitNets hint training, in the paper's two stages or in one.

    Stages:
        ``"hint"``: the student's layers up to each guided layer and the
            regressors minimize ``distill_weight * sum hint_loss`` alone (the
            upper layers are not run).
        ``"kd"``: the paper's stage 2, the whole student with Hinton KD:
            ``task_weight * CE + kd_weight * kd_loss(T)``.
        ``"joint"`` (default): the one-stage form used by RepDistiller,
            ``task_weight * CE + distill_weight * sum hint_loss``.

    A regressor maps each student layer to its teacher layer's shape: a conv
    with ``regressor_kernel_size`` (strided when the student map is larger;
    dense for vectors), followed by BatchNorm and ReLU when ``regressor`` is
    ``"conv_bn_relu"`` (the default, RepDistiller's ``ConvReg``: it matches
    post-ReLU hints and keeps the hint term on a stable scale) or alone when it
    is ``"conv"`` (the paper's plain regressor; use it for pre-activation
    hints). Regressors are trained with the student and are never part of
    `student`.

    Args:
        student, teacher: functional models returning logits.
        student_layers: guided layers of the student.
        teacher_layers: hint layers of the teacher (same length).
        task_weight: cross-entropy weight.
        distill_weight: hint weight (100 in RepDistiller's CIFAR runs).
        regressor_kernel_size: 1 or 3.
        regressor: ``"conv_bn_relu"`` or ``"conv"``.
        temperature: T of the ``"kd"`` stage.
        kd_weight: KD weight of the ``"kd"`` stage.
        stage: ``"hint"``, ``"kd"`` or ``"joint"``.

    Reference:
        Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015.
    """

    STAGES = ("hint", "kd", "joint")
    TERMS = ("task", "kd", "hint")
    DEFAULT_STAGE = "joint"
    FEATURE_ONLY_STAGES = ("hint",)

    def __init__(
        self,
        student,
        teacher,
        student_layers,
        teacher_layers,
        task_weight=1.0,
        distill_weight=100.0,
        regressor_kernel_size=1,
        regressor="conv_bn_relu",
        temperature=4.0,
        kd_weight=0.9,
        **kwargs,
    ):
        self.regressor_kernel_size = one_of("regressor_kernel_size", regressor_kernel_size, (1, 3))
        self.regressor = one_of("regressor", regressor, ("conv_bn_relu", "conv"))
        self.temperature = positive_float("temperature", temperature)
        self.kd_weight = non_negative_float("kd_weight", kd_weight)
        super().__init__(
            student,
            teacher,
            task_weight=task_weight,
            distill_weight=distill_weight,
            student_layers=student_layers,
            teacher_layers=teacher_layers,
            **kwargs,
        )
        if not self.student_layers:
            raise ValueError(
                "FitNet needs at least one (student layer, teacher layer) pair. "
                f"Received: student_layers={self.student_layers}"
            )
        self.regressors = [
            build_connector(
                self.feature_shape("student", s),
                self.feature_shape("teacher", t),
                kernel_size=self.regressor_kernel_size,
                batch_norm=self.regressor == "conv_bn_relu",
                relu=self.regressor == "conv_bn_relu",
                name=f"regressor_{i}",
                student_layer=s,
                teacher_layer=t,
            )
            for i, (s, t) in enumerate(zip(self.student_layers, self.teacher_layers, strict=True))
        ]
        self.adapters.extend(self.regressors)

    @property
    def loss_weights(self):
        if self.stage == "hint":
            return {"hint": self.distill_weight}
        if self.stage == "kd":
            return {"task": self.task_weight, "kd": self.kd_weight}
        return {"task": self.task_weight, "hint": self.distill_weight}

    def compute_losses(self, x, y, sample_weight, teacher_out, student_out):
        terms = {}
        if "task" in self.loss_weights:
            terms["task"] = self.task_loss(y, student_out[OUTPUT_KEY], sample_weight)
        if "kd" in self.loss_weights:
            terms["kd"] = kd_loss(
                teacher_out[OUTPUT_KEY], student_out[OUTPUT_KEY], self.temperature, sample_weight
            )
        if "hint" in self.loss_weights:
            terms["hint"] = sum(
                hint_loss(teacher_out[t], regressor(student_out[s], training=True), sample_weight)
                for s, t, regressor in zip(
                    self.student_layers, self.teacher_layers, self.regressors, strict=True
                )
            )
        return terms

    def get_config(self):
        return {
            **super().get_config(),
            "regressor_kernel_size": self.regressor_kernel_size,
            "regressor": self.regressor,
            "temperature": self.temperature,
            "kd_weight": self.kd_weight,
        }
