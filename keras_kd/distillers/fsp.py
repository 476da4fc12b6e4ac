"""FSP (flow of solution procedure) distillation."""

import keras

from keras_kd.distillers._pairs import require_pairs
from keras_kd.distillers.base import Distiller
from keras_kd.features import OUTPUT_KEY
from keras_kd.losses._align import check_alignable
from keras_kd.losses.fsp import check_fsp_pairs, fsp_loss


@keras.saving.register_keras_serializable(package="keras_kd")
class FSP(Distiller):
    """FSP distillation in the paper's two stages.

    Stages:
        ``"fsp"`` (default): the student's layers up to the taps minimize
            ``distill_weight * fsp_loss`` alone (flow matrices of consecutive
            tapped layers, teacher vs student).
        ``"train"``: ordinary training on the task, ``task_weight * CE``.

    Matching student and teacher layers must have equal channel counts (as in
    the paper); consecutive layers of one network must be spatially alignable.

    Args:
        student, teacher: functional models returning logits.
        student_layers, teacher_layers: >= 2 tap pairs, in network order.
        task_weight: cross-entropy weight (``"train"`` stage).
        distill_weight: FSP weight of the ``"fsp"`` stage. RepDistiller's scripts
            pass ``-b 50`` for FSP, but that flag weighs a main-stage term FSP does
            not have; its init stage minimizes the unweighted sum
            (``helper/pretrain.py``), hence the default 1.

    Reference:
        Yim, Joo, Bae, Kim, "A Gift from Knowledge Distillation", CVPR 2017.
    """

    STAGES = ("fsp", "train")
    TERMS = ("task", "fsp")
    DEFAULT_STAGE = "fsp"
    FEATURE_ONLY_STAGES = ("fsp",)

    def __init__(
        self,
        student,
        teacher,
        student_layers,
        teacher_layers,
        task_weight=1.0,
        distill_weight=1.0,
        **kwargs,
    ):
        super().__init__(
            student,
            teacher,
            task_weight=task_weight,
            distill_weight=distill_weight,
            student_layers=student_layers,
            teacher_layers=teacher_layers,
            **kwargs,
        )
        require_pairs(self, minimum=2)
        t_shapes = [self.feature_shape("teacher", t) for t in self.teacher_layers]
        s_shapes = [self.feature_shape("student", s) for s in self.student_layers]
        check_fsp_pairs(t_shapes, s_shapes, self.teacher_layers, self.student_layers)
        for network, names, shapes in (
            ("teacher", self.teacher_layers, t_shapes),
            ("student", self.student_layers, s_shapes),
        ):
            for k in range(len(names) - 1):
                check_alignable(
                    shapes[k],
                    shapes[k + 1],
                    f"{network} layer {names[k]!r}",
                    f"{network} layer {names[k + 1]!r}",
                )

    @property
    def loss_weights(self):
        if self.stage == "fsp":
            return {"fsp": self.distill_weight}
        return {"task": self.task_weight}

    def compute_losses(self, x, y, sample_weight, teacher_out, student_out):
        if self.stage == "fsp":
            return {
                "fsp": fsp_loss(
                    [teacher_out[t] for t in self.teacher_layers],
                    [student_out[s] for s in self.student_layers],
                    sample_weight,
                )
            }
        return {"task": self.task_loss(y, student_out[OUTPUT_KEY], sample_weight)}
