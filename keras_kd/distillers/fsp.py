"""FSP (flow of solution procedure) distillation."""

import keras

from keras_kd.distillers._terms import INIT, Term, register_term
from keras_kd.distillers.base import Distiller
from keras_kd.losses._align import check_alignable
from keras_kd.losses.fsp import check_fsp_pairs, fsp_loss


@register_term
class FSPTerm(Term):
    """FSP: ``fsp_loss`` between the flow matrices of consecutive tapped layers. Init stage only.

    Matching student and teacher layers must have equal channel counts (as in
    the paper); consecutive layers of one network must be spatially alignable.

    Args:
        weight: the term's weight in the init-stage loss.
        student_layers: >= 2 student layers, in network order.
        teacher_layers: the matching teacher layers (same channel counts).

    Example:
        ```python
        Distiller(student, teacher, init_epochs=5,
                  terms=[FSPTerm(1.0, ["stage1", "stage2"], ["stage1", "stage2"])])
        ```

    Reference:
        Yim, Joo, Bae, Kim, "A Gift from Knowledge Distillation", CVPR 2017.
    """

    name = "fsp"
    stages = (INIT,)
    pairs_required = (2, None)

    def __init__(self, weight=1.0, student_layers=None, teacher_layers=None):
        super().__init__(weight, student_layers, teacher_layers)

    def build(self, shapes):
        t_shapes = [shapes("teacher", t) for t in self.teacher_layers]
        s_shapes = [shapes("student", s) for s in self.student_layers]
        check_fsp_pairs(t_shapes, s_shapes, self.teacher_layers, self.student_layers)
        for network, names, net_shapes in (
            ("teacher", self.teacher_layers, t_shapes),
            ("student", self.student_layers, s_shapes),
        ):
            for k in range(len(names) - 1):
                check_alignable(
                    net_shapes[k],
                    net_shapes[k + 1],
                    f"{network} layer {names[k]!r}",
                    f"{network} layer {names[k + 1]!r}",
                )

    def __call__(self, teacher, student, y, sample_weight):
        return fsp_loss(
            [teacher[t] for t in self.teacher_layers],
            [student[s] for s in self.student_layers],
            sample_weight,
        )


@keras.saving.register_keras_serializable(package="keras_kd")
class FSP(Distiller):
    """FSP distillation: an init stage on the flow matrices, then the task.

    The first `fit` runs the init stage for ``init_epochs``: the student's
    layers up to the taps minimize ``feature_weight * fsp_loss`` alone. Then
    the main stage trains on ``task_weight * CE`` (plus ``kd_weight * KD``).
    Matching student and teacher layers must have equal channel counts (as in
    the paper); consecutive layers of one network must be spatially alignable.

    Args:
        student: the student, a functional or Sequential model returning logits.
        teacher: the teacher, a model returning logits of the same shape.
        student_layers: >= 2 student layers, in network order.
        teacher_layers: the matching teacher layers (same channel counts).
        feature_weight: FSP weight of the init stage. RepDistiller's scripts
            pass ``-b 50`` for FSP, but that flag weighs a main-stage term FSP
            does not have; its init stage minimizes the unweighted sum
            (``helper/pretrain.py``), hence the default 1.
        init_epochs: epochs of the init stage (30 in RepDistiller).
        task_weight: weight of the cross-entropy on the labels.
        kd_weight: weight of an added Hinton KD term (0: none).
        temperature: T of the KD term, in (0, 1000].
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``logit_standardization``, ``check_finite``, ``name``).

    Example:
        ```python
        fsp = FSP(student, teacher, ["stage1", "stage2", "stage3"],
                  ["stage1", "stage2", "stage3"], init_epochs=5)
        fsp.compile(optimizer="adam", metrics=["accuracy"])
        fsp.fit(train, epochs=15)  # the 5-epoch init stage first (once), then 15
        ```

    Reference:
        Yim, Joo, Bae, Kim, "A Gift from Knowledge Distillation", CVPR 2017.
    """

    method_term = FSPTerm

    def __init__(
        self,
        student,
        teacher,
        student_layers,
        teacher_layers,
        feature_weight=1.0,
        init_epochs=30,
        task_weight=1.0,
        kd_weight=0.0,
        temperature=4.0,
        **kwargs,
    ):
        super().__init__(student, teacher, **kwargs)
