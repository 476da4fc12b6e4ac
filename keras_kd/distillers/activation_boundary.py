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
    The ``"init"`` loss is ``distill_weight * sum_i w_i * AB_i`` with layer
    weights ``w_i = 2^(i - n + 1)`` (the deepest layer 1, each shallower one
    half), and ``distill_weight = 3/1000``: the per-sample sums are large, and
    these are the scales of RepDistiller's ``ABLoss`` (``distiller_zoo/AB.py``).

    Args:
        student, teacher: functional models returning logits.
        student_layers, teacher_layers: pre-activation tap pairs (equal sizes).
        margin: the hinge margin m.
        task_weight: cross-entropy weight (``"train"`` stage).
        distill_weight: AB weight (``"init"`` stage).
        layer_weights: one weight per pair; default ``2^(i - n + 1)``.
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
        distill_weight=3e-3,
        kd_weight=0.0,
        layer_weights=None,
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
        n = len(self.student_layers)
        default = [2.0 ** (i - n + 1) for i in range(n)]
        self.layer_weights = [
            non_negative_float("layer_weights", w) for w in (layer_weights or default)
        ]
        if len(self.layer_weights) != n:
            raise ValueError(
                f"`layer_weights` must have one weight per layer pair ({n}). Received: "
                f"layer_weights={layer_weights}"
            )
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
            layers = zip(pairs(self), self.connectors, self.layer_weights, strict=True)
            ab = sum(
                weight
                * activation_boundary_loss(
                    teacher_out[t],
                    connector(student_out[s], training=True),
                    self.margin,
                    sample_weight,
                )
                for (s, t), connector, weight in layers
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
            "layer_weights": self.layer_weights,
            "kd_weight": self.kd_weight,
            "temperature": self.temperature,
        }
