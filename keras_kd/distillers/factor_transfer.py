"""Factor transfer: a paraphraser on the teacher, a translator on the student."""

import keras

from keras_kd._checks import positive_float
from keras_kd.distillers._pairs import check_same_spatial_size, require_pairs
from keras_kd.distillers.base import Distiller
from keras_kd.features import OUTPUT_KEY
from keras_kd.layers.paraphraser import build_paraphraser, build_translator
from keras_kd.losses.factor import factor_transfer_loss
from keras_kd.losses.hint import hint_loss


@keras.saving.register_keras_serializable(package="keras_kd")
class FactorTransfer(Distiller):
    """Factor transfer in the paper's two stages.

    Stages:
        ``"paraphraser"`` (default): the paraphraser (a conv autoencoder on the
            teacher's tapped map, factor of ``rate * C`` channels) learns to
            reconstruct that map (L2); the student does not run.
        ``"transfer"``: the student and its translator train on
            ``task_weight * CE + distill_weight * factor_transfer_loss``
            between the frozen paraphraser's factor and the translator's.

    Neither the paraphraser nor the translator is part of `student`.

    Args:
        student, teacher: functional models returning logits.
        student_layers, teacher_layers: one pair of 4-D maps of the same
            spatial size (the last feature maps in the paper).
        rate: the paraphrase rate k.
        p: the norm of the factor loss (1 in the paper).
        task_weight: cross-entropy weight.
        distill_weight: factor-transfer weight (200 in RepDistiller's runs).

    Reference:
        Kim, Park, Kwak, "Paraphrasing Complex Network: Network Compression
        via Factor Transfer", NeurIPS 2018.
    """

    STAGES = ("paraphraser", "transfer")
    TERMS = ("task", "reconstruction", "ft")
    DEFAULT_STAGE = "paraphraser"
    FEATURE_ONLY_STAGES = ("paraphraser",)

    def __init__(
        self,
        student,
        teacher,
        student_layers,
        teacher_layers,
        rate=0.5,
        p=1.0,
        task_weight=1.0,
        distill_weight=200.0,
        **kwargs,
    ):
        self.rate = positive_float("rate", rate)
        self.p = positive_float("p", p)
        super().__init__(
            student,
            teacher,
            task_weight=task_weight,
            distill_weight=distill_weight,
            student_layers=student_layers,
            teacher_layers=teacher_layers,
            **kwargs,
        )
        require_pairs(self, exactly=1)
        check_same_spatial_size(self)
        t_shape = self.feature_shape("teacher", self.teacher_layers[0])
        self.encoder, self.paraphraser = build_paraphraser(t_shape, self.rate)
        self.translator = build_translator(
            self.feature_shape("student", self.student_layers[0]), self.encoder.output.shape
        )
        self.adapters.extend([self.paraphraser, self.translator])

    @property
    def loss_weights(self):
        if self.stage == "paraphraser":
            return {"reconstruction": 1.0}
        return {"task": self.task_weight, "ft": self.distill_weight}

    def forward_student(self, x, y):
        if self.stage == "paraphraser":
            return {}
        return super().forward_student(x, y)

    def forward_teacher(self, x, y, cached=None):
        out = dict(super().forward_teacher(x, y, cached))
        if self.stage == "transfer":
            out["factor"] = self.encoder(out[self.teacher_layers[0]], training=False)
        return out

    def compute_losses(self, x, y, sample_weight, teacher_out, student_out):
        (s,), (t,) = self.student_layers, self.teacher_layers
        if self.stage == "paraphraser":
            reconstruction = self.paraphraser(teacher_out[t], training=True)
            return {"reconstruction": hint_loss(teacher_out[t], reconstruction, sample_weight)}
        student_factor = self.translator(student_out[s], training=True)
        return {
            "task": self.task_loss(y, student_out[OUTPUT_KEY], sample_weight),
            "ft": factor_transfer_loss(
                teacher_out["factor"], student_factor, self.p, sample_weight
            ),
        }

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "p": self.p}
