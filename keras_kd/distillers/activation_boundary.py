"""Activation-boundary distillation (AB)."""

import keras

from keras_kd._checks import non_negative_float
from keras_kd.distillers._terms import (
    INIT,
    Term,
    check_same_spatial_size,
    pair_connectors,
    register_term,
)
from keras_kd.distillers.base import Distiller
from keras_kd.losses.boundary import activation_boundary_loss


@register_term
class ActivationBoundaryTerm(Term):
    """Activation boundaries: ``sum_i w_i * AB(t_i, connector_i(s_i), margin)``.

    One connector per pair (1x1 conv + BN to the teacher's channels). Layer
    weights default to ``w_i = 2^(i - n + 1)`` (the deepest layer 1, each
    shallower one half), as in RepDistiller's ``ABLoss``. Init stage only.

    Args:
        weight: the term's weight in the total loss (3e-3, the scale of RepDistiller's ``ABLoss``).
        student_layers: pre-activation student maps.
        teacher_layers: pre-activation teacher maps of the same height and width.
        margin: the hinge margin m.
        layer_weights: one weight per pair; default ``2^(i - n + 1)``.

    Example:
        ```python
        Distiller(student, teacher, init_epochs=5,
                  terms=[ActivationBoundaryTerm(3e-3, ["stage3_preact"], ["stage3_preact"])])
        ```

    Reference:
        Heo et al., "Knowledge Transfer via Distillation of Activation
        Boundaries Formed by Hidden Neurons", AAAI 2019.
    """

    name = "ab"
    used_by = "ActivationBoundary"
    stages = (INIT,)
    pairs_required = (1, None)

    def __init__(
        self, weight=3e-3, student_layers=None, teacher_layers=None, margin=1.0, layer_weights=None
    ):
        super().__init__(weight, student_layers, teacher_layers)
        self.margin = non_negative_float("margin", margin)
        n = len(self.pairs)
        weights = [2.0 ** (i - n + 1) for i in range(n)] if layer_weights is None else layer_weights
        self.layer_weights = [non_negative_float("layer_weights", w) for w in weights]
        if len(self.layer_weights) != n:
            raise ValueError(
                f"`layer_weights` must have one weight per layer pair ({n}). Received: "
                f"layer_weights={layer_weights}"
            )

    def build(self, shapes):
        check_same_spatial_size(self, shapes)
        self.adapters = pair_connectors(self, shapes, "connector", batch_norm=True)

    def __call__(self, teacher, student, y, sample_weight):
        layers = zip(self.pairs, self.adapters, self.layer_weights, strict=True)
        return sum(
            weight
            * activation_boundary_loss(
                teacher[t], connector(student[s], training=True), self.margin, sample_weight
            )
            for (s, t), connector, weight in layers
        )


@keras.saving.register_keras_serializable(package="keras_kd")
class ActivationBoundary(Distiller):
    """Activation-boundary transfer: an init stage, then ordinary training.

    The first `fit` runs the init stage for ``init_epochs``: the student's
    layers up to the taps and the connectors minimize ``feature_weight * AB``
    alone. Then the main stage trains on ``task_weight * CE`` plus, when
    ``kd_weight > 0``, ``kd_weight * KD``. Tap the pre-ReLU responses of both
    networks (e.g. ``stage2_preact``). ``feature_weight = 3/1000`` is the
    scale of RepDistiller's ``ABLoss`` (the per-sample sums are large).

    Args:
        student: the student, a functional or Sequential model returning logits.
        teacher: the teacher, a model returning logits of the same shape.
        student_layers: pre-activation student maps (e.g. ``stage3_preact``).
        teacher_layers: pre-activation teacher maps of the same height and width.
        feature_weight: AB weight of the init stage.
        margin: the hinge margin m.
        layer_weights: one weight per pair; default ``2^(i - n + 1)``.
        init_epochs: epochs of the init stage (30 in RepDistiller).
        task_weight: weight of the cross-entropy on the labels.
        kd_weight: weight of an added Hinton KD term (0: none).
        temperature: T of the KD term, in (0, 1000].
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``logit_standardization``, ``check_finite``, ``name``).

    Example:
        ```python
        ab = ActivationBoundary(student, teacher, ["stage2_preact", "stage3_preact"],
                                ["stage2_preact", "stage3_preact"], init_epochs=5)
        ab.compile(optimizer="adam", metrics=["accuracy"])
        ab.fit(train, epochs=15)
        ```

    Reference:
        Heo et al., "Knowledge Transfer via Distillation of Activation
        Boundaries Formed by Hidden Neurons", AAAI 2019.
    """

    method_term = ActivationBoundaryTerm

    def __init__(
        self,
        student,
        teacher,
        student_layers,
        teacher_layers,
        feature_weight=3e-3,
        margin=1.0,
        layer_weights=None,
        init_epochs=30,
        task_weight=1.0,
        kd_weight=0.0,
        temperature=4.0,
        **kwargs,
    ):
        super().__init__(student, teacher, **kwargs)
