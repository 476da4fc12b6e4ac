"""FitNets: hints from a teacher layer through a trainable regressor."""

import keras

from keras_kd._checks import one_of
from keras_kd.distillers._terms import INIT, MAIN, Term, pair_connectors, register_term
from keras_kd.distillers.base import Distiller
from keras_kd.losses.hint import hint_loss


@register_term
class HintTerm(Term):
    """FitNets hint: ``sum over pairs of hint_loss(t, regressor(s))`` (MSE).

    A regressor maps each student layer to its teacher layer's shape: a conv
    with ``regressor_kernel_size`` (strided when the student map is larger;
    dense for vectors), followed by BatchNorm and ReLU when ``regressor`` is
    ``"conv_bn_relu"`` (RepDistiller's ``ConvReg``: it matches post-ReLU hints
    and keeps the term on a stable scale) or alone when it is ``"conv"`` (the
    paper's plain regressor; use it for pre-activation hints). Active in the
    init stage (the paper's hint stage) and the main stage.

    Args:
        weight: the term's weight in the total loss (100 in RepDistiller's CIFAR runs).
        student_layers: the guided student layers.
        teacher_layers: the hint layers of the teacher (same length).
        regressor: ``"conv_bn_relu"`` or ``"conv"``.
        regressor_kernel_size: 1 or 3.

    Example:
        ```python
        Distiller(student, teacher, terms=[HintTerm(100.0, ["stage2"], ["stage2"])])
        ```

    Reference:
        Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015.
    """

    name = "hint"
    used_by = "FitNet"
    stages = (INIT, MAIN)
    pairs_required = (1, None)

    def __init__(
        self,
        weight=100.0,
        student_layers=None,
        teacher_layers=None,
        regressor="conv_bn_relu",
        regressor_kernel_size=1,
    ):
        super().__init__(weight, student_layers, teacher_layers)
        self.regressor = one_of("regressor", regressor, ("conv_bn_relu", "conv"))
        self.regressor_kernel_size = one_of("regressor_kernel_size", regressor_kernel_size, (1, 3))

    def build(self, shapes):
        bn_relu = self.regressor == "conv_bn_relu"
        self.adapters = pair_connectors(
            self,
            shapes,
            "regressor",
            kernel_size=self.regressor_kernel_size,
            batch_norm=bn_relu,
            relu=bn_relu,
        )

    def __call__(self, teacher, student, y, sample_weight):
        return sum(
            hint_loss(teacher[t], regressor(student[s], training=True), sample_weight)
            for (s, t), regressor in zip(self.pairs, self.adapters, strict=True)
        )


@keras.saving.register_keras_serializable(package="keras_kd")
class FitNet(Distiller):
    """FitNets: ``task_weight * CE + feature_weight * hint [+ kd_weight * KD]``.

    With ``init_epochs > 0`` the first `fit` runs the paper's hint stage first:
    the student's layers up to each guided layer and the regressors minimize
    the hint alone (the upper layers do not run). ``init_epochs=0`` (default)
    is the one-stage form of RepDistiller's CIFAR runs. The regressors are
    trained with the student and are not part of `student`.

    Args:
        student: the student, a functional or Sequential model returning logits.
        teacher: the teacher, a model returning logits of the same shape.
        student_layers: guided layers of the student (maps or vectors; any
            channel count: a regressor maps them to the teacher's shape).
        teacher_layers: hint layers of the teacher (same length).
        feature_weight: hint weight (100 in RepDistiller's CIFAR runs).
        regressor: ``"conv_bn_relu"`` or ``"conv"`` (see `HintTerm`).
        regressor_kernel_size: 1 or 3.
        task_weight: weight of the cross-entropy on the labels.
        kd_weight: weight of an added Hinton KD term (0: none).
        temperature: T of the KD term, in (0, 1000].
        init_epochs: epochs of the hint stage run by the first `fit` (0: none).
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``logit_standardization``, ``check_finite``, ``name``).

    Example:
        ```python
        fitnet = FitNet(student, teacher, ["stage2"], ["stage2"], init_epochs=5)
        fitnet.compile(optimizer="adam", metrics=["accuracy"])
        fitnet.fit(train, epochs=15)  # 5 hint epochs first, then 15
        ```

    Reference:
        Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015.
    """

    method_term = HintTerm

    def __init__(
        self,
        student,
        teacher,
        student_layers,
        teacher_layers,
        feature_weight=100.0,
        regressor="conv_bn_relu",
        regressor_kernel_size=1,
        task_weight=1.0,
        kd_weight=0.0,
        temperature=4.0,
        init_epochs=0,
        **kwargs,
    ):
        super().__init__(student, teacher, **kwargs)
