"""FSP (flow of solution procedure) distillation."""

import keras

from keras_kd.distillers._terms import INIT, Term, register_term
from keras_kd.distillers.base import Distiller, method_arguments
from keras_kd.losses._align import check_alignable
from keras_kd.losses.fsp import check_fsp_pairs, fsp_loss


@register_term
class FSPTerm(Term):
    """``fsp_loss`` between the flow matrices of consecutive tapped layers,
    teacher vs student. Init stage only."""

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
        student, teacher: models returning logits.
        student_layers, teacher_layers: >= 2 tap pairs, in network order.
        feature_weight: FSP weight of the init stage. RepDistiller's scripts
            pass ``-b 50`` for FSP, but that flag weighs a main-stage term FSP
            does not have; its init stage minimizes the unweighted sum
            (``helper/pretrain.py``), hence the default 1.
        init_epochs: epochs of the init stage (30 in RepDistiller).
        task_weight, kd_weight, temperature: see `Distiller`.

    Reference:
        Yim, Joo, Bae, Kim, "A Gift from Knowledge Distillation", CVPR 2017.
    """

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
        super().__init__(**method_arguments(locals()))

    def method_terms(self, student_layers, teacher_layers, feature_weight):
        return [FSPTerm(feature_weight, student_layers, teacher_layers)]
