"""Factor transfer: a paraphraser on the teacher, a translator on the student."""

import keras
import tensorflow as tf

from keras_kd._checks import one_of, positive_float
from keras_kd.distillers._terms import INIT, Term, check_same_spatial_size, register_term
from keras_kd.distillers.base import Distiller
from keras_kd.layers.paraphraser import build_paraphraser, build_translator
from keras_kd.losses.factor import FORMS, factor_transfer_loss
from keras_kd.losses.hint import hint_loss


@register_term
class FactorTransferTerm(Term):
    """Factor transfer: ``factor_transfer_loss(encoder(t), translator(s), p, form)``.

    The paraphraser (a conv autoencoder on the teacher's tapped map, factor of
    ``rate * C`` channels) is trained in the init stage by `ParaphraserTerm`;
    here its encoder is frozen and the translator trains with the student.

    Args:
        weight: the term's weight in the total loss.
        student_layers: one student map.
        teacher_layers: one teacher map of the same height and width.
        rate: the paraphrase rate k (factor channels = k * teacher channels).
        p: the norm of the factor loss (1 in the paper).
        form: ``"repdistiller"`` or ``"paper"`` (see `factor_transfer_loss`).

    Example:
        ```python
        FactorTransfer(student, teacher, ["stage3"], ["stage3"])  # builds this term
        ```

    Reference:
        Kim, Park, Kwak, "Paraphrasing Complex Network: Network Compression
        via Factor Transfer", NeurIPS 2018.
    """

    name = "ft"
    pairs_required = (1, 1)

    def __init__(
        self,
        weight=200.0,
        student_layers=None,
        teacher_layers=None,
        rate=0.5,
        p=1.0,
        form="repdistiller",
    ):
        super().__init__(weight, student_layers, teacher_layers)
        self.rate = positive_float("rate", rate)
        self.p = positive_float("p", p)
        self.form = one_of("form", form, FORMS)

    def build(self, shapes):
        check_same_spatial_size(self, shapes)
        ((s, t),) = self.pairs
        self.encoder, self.paraphraser = build_paraphraser(shapes("teacher", t), self.rate)
        self.translator = build_translator(shapes("student", s), self.encoder.output.shape)
        self.adapters = [self.paraphraser, self.translator]

    def __call__(self, teacher, student, y, sample_weight):
        ((s, t),) = self.pairs
        factor = tf.stop_gradient(self.encoder(teacher[t], training=False))
        translated = self.translator(student[s], training=True)
        return factor_transfer_loss(factor, translated, self.p, sample_weight, self.form)


class ParaphraserTerm(Term):
    """Init stage of factor transfer: the paraphraser reconstructs the
    teacher's map, ``hint_loss(t, paraphraser(t))`` (L2); the student does
    not run. Built by `FactorTransfer` from its `FactorTransferTerm`."""

    name = "reconstruction"
    stages = (INIT,)

    def __init__(self, factor_term):
        super().__init__(1.0)
        self.factor_term = factor_term
        self.teacher_layers = list(factor_term.teacher_layers)

    def __call__(self, teacher, student, y, sample_weight):
        (t,) = self.teacher_layers
        reconstruction = self.factor_term.paraphraser(teacher[t], training=True)
        return hint_loss(teacher[t], reconstruction, sample_weight)


@keras.saving.register_keras_serializable(package="keras_kd")
class FactorTransfer(Distiller):
    """Factor transfer in the paper's two stages.

    The first `fit` runs the init stage for ``init_epochs``: the paraphraser
    learns to reconstruct the teacher's tapped map. Then the student and its
    translator train on ``task_weight * CE + feature_weight * FT``. Neither the
    paraphraser nor the translator is part of `student`.

    Args:
        student: the student, a functional or Sequential model returning logits.
        teacher: the teacher, a model returning logits of the same shape.
        student_layers: one student map (the last feature map in the paper).
        teacher_layers: one teacher map of the same height and width.
        feature_weight: factor-transfer weight (200 in RepDistiller's runs,
            with ``form="repdistiller"``).
        rate: the paraphrase rate k.
        p: the norm of the factor loss (1 in the paper).
        form: ``"repdistiller"`` (channel-mean factor, RepDistiller's code and
            the weight 200) or ``"paper"`` (flattened factor); see
            `keras_kd.losses.factor_transfer_loss`.
        init_epochs: epochs of the paraphraser stage (30 in RepDistiller).
        task_weight: weight of the cross-entropy on the labels.
        kd_weight: weight of an added Hinton KD term (0: none).
        temperature: T of the KD term, in (0, 1000].
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``logit_standardization``, ``check_finite``, ``name``).

    Example:
        ```python
        ft = FactorTransfer(student, teacher, ["stage3"], ["stage3"], init_epochs=5)
        ft.compile(optimizer="adam", metrics=["accuracy"])
        ft.fit(train, epochs=15)
        ```

    Reference:
        Kim, Park, Kwak, "Paraphrasing Complex Network: Network Compression
        via Factor Transfer", NeurIPS 2018.
    """

    def __init__(
        self,
        student,
        teacher,
        student_layers,
        teacher_layers,
        feature_weight=200.0,
        rate=0.5,
        p=1.0,
        form="repdistiller",
        init_epochs=30,
        task_weight=1.0,
        kd_weight=0.0,
        temperature=4.0,
        **kwargs,
    ):
        super().__init__(student, teacher, **kwargs)

    def method_terms(self):
        factor = FactorTransferTerm(**self.arguments_for(FactorTransferTerm))
        return [factor, ParaphraserTerm(factor)]
