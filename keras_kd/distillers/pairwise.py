"""The pair-wise term of structured knowledge distillation (segmentation)."""

import keras

from keras_kd.distillers._terms import Term, check_same_spatial_size, register_term
from keras_kd.distillers.base import Distiller
from keras_kd.losses.pairwise import pairwise_loss, scale_value


@register_term
class PairwiseTerm(Term):
    """Pair-wise: ``sum over pairs of pairwise_loss(t, s, scale)``.

    The maps are max-pooled to a coarse grid and the student matches the
    teacher's cosine similarity between every two pooled positions (channels
    may differ; height and width must be equal).

    Args:
        weight: the term's weight in the total loss (the authors' ``--lambda-pa``, 0.5).
        student_layers: tapped student layers.
        teacher_layers: the matching teacher layers (same height and width).
        scale: the pooling window as a fraction of the map's height and
            width, in (0, 1] (0.5: a 2 x 2 grid, the authors' default).

    Example:
        ```python
        Distiller(student, teacher, terms=[PairwiseTerm(0.5, ["enc"], ["enc"])])
        ```

    Reference:
        Liu, Chen, Liu, Qin, Luo, Wang, "Structured Knowledge Distillation for
        Semantic Segmentation", CVPR 2019.
    """

    name = "pairwise"
    pairs_required = (1, None)

    def __init__(self, weight=0.5, student_layers=None, teacher_layers=None, scale=0.5):
        super().__init__(weight, student_layers, teacher_layers)
        self.scale = scale_value("scale", scale)

    def build(self, shapes):
        check_same_spatial_size(self, shapes)

    def __call__(self, teacher, student, y, sample_weight):
        return sum(
            pairwise_loss(teacher[t], student[s], self.scale, sample_weight) for s, t in self.pairs
        )


@keras.saving.register_keras_serializable(package="keras_kd")
class PairwiseDistillation(Distiller):
    """Structured KD's pair-wise term: ``task_weight * task loss + feature_weight * pairwise``.

    The authors train it with a per-pixel KD term (``kd_weight=10``,
    ``temperature=1`` here) and an adversarial holistic term (not included).

    Args:
        student: the student, a functional or Sequential segmentation model.
        teacher: the teacher, a model with the student's output shape.
        student_layers: tapped student layers (4-D maps).
        teacher_layers: the matching teacher layers (same height and width).
        scale: the pooling window as a fraction of the height and width.
        feature_weight: the pair-wise term's weight (``--lambda-pa``, 0.5).
        task_weight: weight of the task loss.
        kd_weight: weight of an added per-pixel Hinton KD term (0: none).
        temperature: T of that KD term.
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``check_finite``, ``name``).

    Example:
        ```python
        skd = PairwiseDistillation(student, teacher, ["enc"], ["enc"], kd_weight=10.0,
                                   temperature=1.0)
        skd.compile(optimizer="adam", metrics=["accuracy"])
        skd.fit(images_and_masks, epochs=10)
        ```

    Reference:
        Liu, Chen, Liu, Qin, Luo, Wang, "Structured Knowledge Distillation for
        Semantic Segmentation", CVPR 2019.
    """

    method_term = PairwiseTerm

    def __init__(
        self,
        student,
        teacher,
        student_layers,
        teacher_layers,
        scale=0.5,
        feature_weight=0.5,
        task_weight=1.0,
        kd_weight=0.0,
        temperature=4.0,
        **kwargs,
    ):
        super().__init__(student, teacher, **kwargs)
