"""Activation-boundary distillation (AB)."""

import keras

from keras_kd._checks import non_negative_float, positive_float
from keras_kd.distillers._pairs import check_same_spatial_size, pairs, require_pairs
from keras_kd.distillers.base import Distiller
from keras_kd.features import OUTPUT_KEY
from keras_kd.layers.connector import build_connector
from keras_kd.losses.boundary import activation_boundary_loss
from keras_kd.losses.kd import kd_loss


@keras.saving.register_keras_serializable(package="keras_kd")
class ActivationBoundary(Distiller):
    """Activation-boundary transfer with an initialization stage.

    Stages:
        ``"init"`` (default): the student's layers up to the taps and one
            connector per pair (1x1 conv + BN to the teacher's channels)
            minimize ``distill_weight * sum activation_boundary_loss`` alone.
        ``"train"``: ordinary training, ``task_weight * CE`` plus, when
            ``kd_weight > 0``, ``kd_weight * kd_loss(T)``.

    Tap the pre-ReLU responses of both networks (e.g. ``stage2_preact``).
    The per-sample sum of the hinge is large; the authors' code scales it by
    1/1000, which is why ``distill_weight`` defaults to 1e-3.

    Args:
        student, teacher: functional models returning logits.
        student_layers, teacher_layers: pre-activation tap pairs (equal sizes).
        margin: the hinge margin m.
        task_weight: cross-entropy weight (``"train"`` stage).
        distill_weight: AB weight (``"init"`` stage).
        kd_weight: optional KD weight in the ``"train"`` stage.
        temperature: T of the optional KD term.

    Reference:
        Heo et al., "Knowledge Transfer via Distillation of Activation
        Boundaries Formed by Hidden Neurons", AAAI 2019.
    """

    STAGES = ("init", "train")
    TERMS = ("task", "kd", "ab")
    DEFAULT_STAGE = "init"
    FEATURE_ONLY_STAGES = ("init",)

    def __init__(
        self,
        student,
        teacher,
        student_layers,
        teacher_layers,
        margin=1.0,
        task_weight=1.0,
        distill_weight=1e-3,
        kd_weight=0.0,
        temperature=4.0,
        **kwargs,
    ):
        self.margin = non_negative_float("margin", margin)
        self.kd_weight = non_negative_float("kd_weight", kd_weight)
        self.temperature = positive_float("temperature", temperature)
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
        check_same_spatial_size(self)
        self.connectors = [
            build_connector(
                self.feature_shape("student", s),
                self.feature_shape("teacher", t),
                batch_norm=True,
                name=f"connector_{i}",
                student_layer=s,
                teacher_layer=t,
            )
            for i, (s, t) in enumerate(pairs(self))
        ]
        self.adapters.extend(self.connectors)

    @property
    def loss_weights(self):
        if self.stage == "init":
            return {"ab": self.distill_weight}
        weights = {"task": self.task_weight}
        if self.kd_weight:
            weights["kd"] = self.kd_weight
        return weights

    def compute_losses(self, x, y, sample_weight, teacher_out, student_out):
        if self.stage == "init":
            ab = sum(
                activation_boundary_loss(
                    teacher_out[t],
                    connector(student_out[s], training=True),
                    self.margin,
                    sample_weight,
                )
                for (s, t), connector in zip(pairs(self), self.connectors, strict=True)
            )
            return {"ab": ab}
        terms = {"task": self.task_loss(y, student_out[OUTPUT_KEY], sample_weight)}
        if self.kd_weight:
            terms["kd"] = kd_loss(
                teacher_out[OUTPUT_KEY], student_out[OUTPUT_KEY], self.temperature, sample_weight
            )
        return terms

    def get_config(self):
        return {
            **super().get_config(),
            "margin": self.margin,
            "kd_weight": self.kd_weight,
            "temperature": self.temperature,
        }
