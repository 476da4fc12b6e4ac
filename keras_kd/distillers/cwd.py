"""Channel-wise distillation (CWD) for dense prediction."""

import keras

from keras_kd._checks import temperature_value
from keras_kd.distillers._terms import Term, register_term
from keras_kd.distillers.base import Distiller
from keras_kd.features import OUTPUT_KEY
from keras_kd.losses._reduce import padding_mask
from keras_kd.losses.cwd import cwd_loss


@register_term
class CWDTerm(Term):
    """CWD: ``cwd_loss(t, s, tau)`` on the logit maps, or on tapped feature pairs.

    Each channel of a map (a class score map, or a feature channel) becomes
    a softmax over the map's positions, and the student matches the
    teacher's per channel (KL, ``tau^2``, averaged over channels). Without
    layers the term takes the networks' logits, (batch, H, W, classes) or
    (batch, T, classes), padding positions left out; with layers, each pair
    must have one shape.

    Args:
        weight: the term's weight in the total loss (mmrazor's CWD configs: 3
            on segmentation logits, 5 to 10 on detection features).
        temperature: tau in (0, 1000] (1 in the authors' configs).
        student_layers: tapped student layers (none: the logits).
        teacher_layers: the matching teacher layers (same length).

    Example:
        ```python
        Distiller(student, teacher, terms=[CWDTerm(3.0, temperature=1.0)])
        ```

    Reference:
        Shu, Liu, Gao, Yan, Shen, "Channel-wise Knowledge Distillation for
        Dense Prediction", ICCV 2021.
    """

    name = "cwd"

    def __init__(self, weight=3.0, temperature=1.0, student_layers=None, teacher_layers=None):
        super().__init__(weight, student_layers, teacher_layers)
        self.temperature = temperature_value("temperature", temperature)
        self.uses_logits = not self.pairs

    def build(self, shapes):
        pairs = self.pairs or [(OUTPUT_KEY, OUTPUT_KEY)]
        for s, t in pairs:
            s_shape, t_shape = shapes("student", s), shapes("teacher", t)
            if len(s_shape) < 3 or s_shape[1:] != t_shape[1:]:
                where = "the logits" if s == OUTPUT_KEY else f"layers {s!r} and {t!r}"
                raise ValueError(
                    "CWD compares maps of one shape with positions, (batch, H, W, channels) "
                    f"or (batch, T, channels); {where} are not. Received: student shape "
                    f"{s_shape}, teacher shape {t_shape}"
                )

    def __call__(self, teacher, student, y, sample_weight):
        if not self.pairs:
            logits = student[OUTPUT_KEY]
            mask = padding_mask(sample_weight, logits)
            return cwd_loss(teacher[OUTPUT_KEY], logits, self.temperature, sample_weight, mask)
        return sum(
            cwd_loss(teacher[t], student[s], self.temperature, sample_weight) for s, t in self.pairs
        )


@keras.saving.register_keras_serializable(package="keras_kd")
class CWD(Distiller):
    """CWD: ``task_weight * task loss + feature_weight * cwd_loss`` on the logit maps.

    For segmentation (per-pixel logits) and other dense or sequence outputs;
    the task loss is the compiled one (``compile(loss=...)``) or the
    per-position cross-entropy.

    Args:
        student: the student, a functional or Sequential model returning
            logits with positions, e.g. (batch, H, W, classes).
        teacher: the teacher, a model returning logits of the same shape.
        student_layers: tapped student layers instead of the logits (None:
            the logits).
        teacher_layers: the matching teacher layers (same shapes).
        temperature: tau in (0, 1000] (also the KD term's T).
        feature_weight: the CWD term's weight (3 in mmrazor's segmentation configs).
        task_weight: weight of the task loss.
        kd_weight: weight of an added per-position Hinton KD term (0: none).
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``check_finite``, ``name``).

    Example:
        ```python
        cwd = CWD(student, teacher, temperature=1.0, feature_weight=3.0)
        cwd.compile(optimizer="adam", metrics=["accuracy"])
        cwd.fit(images_and_masks, epochs=10)
        ```

    Reference:
        Shu, Liu, Gao, Yan, Shen, "Channel-wise Knowledge Distillation for
        Dense Prediction", ICCV 2021; mmrazor's ``ChannelWiseDivergence``.
    """

    method_term = CWDTerm

    def __init__(
        self,
        student,
        teacher,
        student_layers=None,
        teacher_layers=None,
        temperature=1.0,
        feature_weight=3.0,
        task_weight=1.0,
        kd_weight=0.0,
        **kwargs,
    ):
        super().__init__(student, teacher, **kwargs)
