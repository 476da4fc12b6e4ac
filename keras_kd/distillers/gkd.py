"""Token-level distillation of sequence models with the generalized JSD (GKD)."""

import keras

from keras_kd._checks import temperature_value
from keras_kd.distillers._terms import Term, register_term
from keras_kd.distillers.base import Distiller
from keras_kd.features import OUTPUT_KEY
from keras_kd.losses.gkd import beta_value, gkd_loss


@register_term
class GKDTerm(Term):
    """GKD: ``gkd_loss(t, s, beta, T)`` on the logits, per token.

    ``beta = 0`` is the forward KL(teacher || student), ``beta = 1`` the
    reverse KL(student || teacher), in between the generalized
    Jensen-Shannon divergence. The mean is over the real tokens of the whole
    batch (padding from a Keras mask or per-token sample weights).

    Args:
        weight: the term's weight in the total loss.
        beta: in [0, 1] (0.5 in TRL's ``GKDConfig``).
        temperature: T in (0, 1000] applied to both distributions (no ``T^2``).

    Example:
        ```python
        Distiller(student, teacher, terms=[GKDTerm(1.0, beta=0.0)])  # forward KL
        ```

    Reference:
        Agarwal, Vieillard, Zhou, Stanczyk, Ramos, Geist, Bachem, "On-Policy
        Distillation of Language Models: Learning from Self-Generated
        Mistakes", ICLR 2024.
    """

    name = "gkd"
    uses_logits = True

    def __init__(self, weight=1.0, beta=0.5, temperature=1.0):
        super().__init__(weight)
        self.beta = beta_value("beta", beta)
        self.temperature = temperature_value("temperature", temperature)

    def __call__(self, teacher, student, y, sample_weight):
        return gkd_loss(
            teacher[OUTPUT_KEY], student[OUTPUT_KEY], self.beta, self.temperature, sample_weight
        )


@keras.saving.register_keras_serializable(package="keras_kd")
class GKD(Distiller):
    """GKD, offline: ``task_weight * task loss + feature_weight * JSD_beta`` per token.

    For sequence models with logits per token, (batch, T, vocabulary), and
    any other logits with the class axis last. Offline means the student
    learns on the dataset's sequences (TRL's ``lmbda=0``); generating
    sequences from the student during training is not done here.

    Args:
        student: the student, a functional or Sequential model returning
            logits, e.g. (batch, T, vocabulary) with a Keras mask.
        teacher: the teacher, a model returning logits of the same shape.
        beta: 0 forward KL, 1 reverse KL, in between the generalized JSD.
        temperature: T of both distributions (also the KD term's).
        feature_weight: the divergence's weight.
        task_weight: weight of the task loss (0: the divergence alone, as in
            TRL's ``GKDTrainer``).
        kd_weight: weight of an added Hinton KD term (0: none).
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``check_finite``, ``name``).

    Example:
        ```python
        gkd = GKD(student, teacher, beta=1.0)  # reverse KL
        gkd.compile(optimizer="adam", metrics=["accuracy"])
        gkd.fit(tokens, next_tokens, epochs=10)
        ```

    Reference:
        Agarwal, Vieillard, Zhou, Stanczyk, Ramos, Geist, Bachem, "On-Policy
        Distillation of Language Models: Learning from Self-Generated
        Mistakes", ICLR 2024; TRL's ``GKDTrainer.generalized_jsd_loss``.
    """

    method_term = GKDTerm

    def __init__(
        self,
        student,
        teacher,
        beta=0.5,
        temperature=1.0,
        feature_weight=1.0,
        task_weight=0.0,
        kd_weight=0.0,
        **kwargs,
    ):
        super().__init__(student, teacher, **kwargs)
