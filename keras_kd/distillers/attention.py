"""Attention transfer (activation-based or gradient-based)."""

import keras
import tensorflow as tf

from keras_kd._checks import one_of, positive_float
from keras_kd.distillers._pairs import check_pairs_alignable, pairs, require_pairs
from keras_kd.distillers.base import Distiller, task_loss_per_sample
from keras_kd.features import OUTPUT_KEY
from keras_kd.losses.attention import attention_transfer_loss, gradient_attention_loss

INPUT_GRAD_KEY = "input_grad"


def _input_gradient(taps, x, y, training):
    """Runs ``taps`` under a tape; returns its outputs and d(sum CE)/dx."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = taps(x, training=training)
        ce = tf.reduce_sum(task_loss_per_sample(y, out[OUTPUT_KEY]))
    return {**out, INPUT_GRAD_KEY: tape.gradient(ce, x)}


@keras.saving.register_keras_serializable(package="keras_kd")
class AttentionTransfer(Distiller):
    """Attention transfer: ``task_weight * CE + distill_weight * AT term``.

    ``mode="activation"``: the AT term is the sum over layer pairs of
    `attention_transfer_loss` (maps aligned by pooling; channels may differ).
    ``mode="gradient"``: the AT term is ``gradient_attention_loss / 2`` (the
    paper's beta/2) between the input gradients of each network's summed
    cross-entropy; the student's input gradient is taken inside the training
    tape, so the term trains the student through a second-order gradient.
    No layers are needed in gradient mode.

    Args:
        student, teacher: functional models returning logits.
        student_layers, teacher_layers: tap pairs (activation mode).
        mode: ``"activation"`` or ``"gradient"``.
        p: attention exponent (activation mode).
        task_weight: cross-entropy weight.
        distill_weight: beta (1000 in the paper and RepDistiller for the
            activation form).

    Reference:
        Zagoruyko & Komodakis, "Paying More Attention to Attention", ICLR 2017.
    """

    TERMS = ("task", "at")

    def __init__(
        self,
        student,
        teacher,
        student_layers=None,
        teacher_layers=None,
        mode="activation",
        p=2.0,
        task_weight=1.0,
        distill_weight=1000.0,
        **kwargs,
    ):
        self.mode = one_of("mode", mode, ("activation", "gradient"))
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
        if self.mode == "activation":
            require_pairs(self)
            check_pairs_alignable(self)

    @property
    def loss_weights(self):
        return {"task": self.task_weight, "at": self.distill_weight}

    def teacher_outputs_for_cache(self, x, y):
        if self.mode == "gradient":
            return _input_gradient(self.teacher_taps, tf.cast(x, tf.float32), y, False)
        return super().teacher_outputs_for_cache(x, y)

    def forward_teacher(self, x, y, cached=None):
        if self.mode == "gradient" and cached is None:
            return self.teacher_outputs_for_cache(x, y)
        return super().forward_teacher(x, y, cached)

    def forward_student(self, x, y):
        if self.mode == "gradient":
            return _input_gradient(self.student_taps, tf.cast(x, tf.float32), y, True)
        return super().forward_student(x, y)

    def compute_losses(self, x, y, sample_weight, teacher_out, student_out):
        if self.mode == "gradient":
            at = 0.5 * gradient_attention_loss(
                teacher_out[INPUT_GRAD_KEY], student_out[INPUT_GRAD_KEY], sample_weight
            )
        else:
            at = sum(
                attention_transfer_loss(teacher_out[t], student_out[s], self.p, sample_weight)
                for s, t in pairs(self)
            )
        return {"task": self.task_loss(y, student_out[OUTPUT_KEY], sample_weight), "at": at}

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "p": self.p}
