"""MLKD: multi-level logit distillation (Jin, Wang, Lin, CVPR 2023)."""

import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_kd._checks import temperature_value
from keras_kd.distillers import _step_checks
from keras_kd.distillers._terms import Term, register_term
from keras_kd.distillers.base import Distiller
from keras_kd.features import OUTPUT_KEY
from keras_kd.losses.kd import kd_loss

STRONG_KEY = "output_strong"
LEVELS = ("instance", "class", "batch")
# The authors' temperatures after the configured one, in their order.
EXTRA_TEMPERATURES = (3.0, 5.0, 2.0, 6.0)
# (batch size, classes) of the authors' CIFAR-100 setting.
AUTHORS_SHAPE = (64, 100)


def level_scale(level, batch, classes, reference=AUTHORS_SHAPE):
    """The factor that keeps a level as large, next to the instance level, at
    ``(batch, classes)`` as at ``reference``: the class level grows as
    ``B^2 / C^3`` and the batch level as ``B / C^2`` (their Gram matrices have
    entries of order ``B / C^2`` and ``1 / C``), the instance level not at all.

    Args:
        level: ``"instance"``, ``"class"`` or ``"batch"``.
        batch: the batch size (a number or a scalar tensor).
        classes: the number of classes.
        reference: ``(batch size, classes)`` at which the factor is 1.

    Returns:
        ``1`` (instance), ``(b0/B)^2 (C/c0)^3`` (class) or ``(b0/B) (C/c0)^2`` (batch).
    """
    b0, c0 = (float(v) for v in reference)
    batch_ratio, class_ratio = b0 / batch, classes / c0
    if level == "class":
        return batch_ratio**2 * class_ratio**3
    if level == "batch":
        return batch_ratio * class_ratio**2
    return 1.0


def _gram_distance(teacher_logits, student_logits, temperature, axis):
    """``sum((G_t - G_s)^2) / n`` with ``P = softmax(z / T)`` (batch, C), ``G``
    the Gram matrix of P's columns (``axis=1``: ``P^T P``, n = C) or of its
    rows (``axis=0``: ``P P^T``, n = B)."""
    p_t = tf.nn.softmax(tf.cast(teacher_logits, tf.float32) / temperature, axis=-1)
    p_s = tf.nn.softmax(tf.cast(student_logits, tf.float32) / temperature, axis=-1)
    over_batch = axis == 1
    gram_t = tf.matmul(p_t, p_t, transpose_a=over_batch, transpose_b=not over_batch)
    gram_s = tf.matmul(p_s, p_s, transpose_a=over_batch, transpose_b=not over_batch)
    return tf.reduce_sum(tf.square(gram_t - gram_s)) / tf.cast(tf.shape(p_t)[axis], tf.float32)


def class_correlation_loss(teacher_logits, student_logits, temperature):
    """``sum((P_t^T P_t - P_s^T P_s)^2) / C``, ``P = softmax(z / T)`` (batch, C):
    the classes' correlation across the batch (MLKD's class level).

    Args:
        teacher_logits: (batch, classes) teacher logits.
        student_logits: (batch, classes) student logits.
        temperature: T > 0.

    Returns:
        A float32 scalar.
    """
    return _gram_distance(teacher_logits, student_logits, temperature, axis=1)


def batch_correlation_loss(teacher_logits, student_logits, temperature):
    """``sum((P_t P_t^T - P_s P_s^T)^2) / B``, ``P = softmax(z / T)`` (batch, C):
    the samples' correlation over the classes (MLKD's batch level).

    Args:
        teacher_logits: (batch, classes) teacher logits.
        student_logits: (batch, classes) student logits.
        temperature: T > 0.

    Returns:
        A float32 scalar.
    """
    return _gram_distance(teacher_logits, student_logits, temperature, axis=0)


def _median(values):
    """The median with linear interpolation (NumPy's 50th percentile)."""
    ordered = tf.sort(values)
    position = 0.5 * tf.cast(tf.size(values) - 1, tf.float32)
    low = tf.cast(tf.floor(position), tf.int32)
    high = tf.cast(tf.math.ceil(position), tf.int32)
    fraction = position - tf.cast(low, tf.float32)
    return ordered[low] + fraction * (ordered[high] - ordered[low])


def _share_at_most_median(values):
    return tf.reduce_mean(tf.cast(values <= _median(values), tf.float32))


def mlkd_loss(teacher_weak, student_weak, teacher_strong, student_strong, level, temperature=4.0):
    """One level of MLKD between teacher and student logits on two views.

    With the temperatures ``Ts = (T, 3, 5, 2, 6)``, ``kd`` Hinton's KD (with
    ``T^2``, `keras_kd.losses.kd_loss`), ``cc`` `class_correlation_loss` and
    ``bc`` `batch_correlation_loss`, ``w``/``s`` the weak/strong view:

    - ``"instance"``: ``m * sum_Ts kd(w) + sum_{T, 3, 5} kd(s) + sum_{2, 6} kd(w)``;
    - ``"class"``: ``m_c * sum_Ts cc(w)``;
    - ``"batch"``: ``m * sum_Ts bc(w)``;

    where ``m`` is the share of samples whose weak-view teacher confidence
    (top softmax probability) is at most the batch median and ``m_c`` the share
    of classes whose summed teacher probability is at most the median over
    classes. As in the authors' code (``KD_ours.py``): the confidence masks
    multiply the levels after the batch mean (so they act as these shares,
    near 1/2), the strong view's instance sum takes T = 2 and 6 on the weak
    view, and the strong view's class and batch levels are not part of the
    loss. Every level relates the samples of a batch: sample weights do not
    apply.

    Args:
        teacher_weak: (batch, classes) teacher logits on the weak view.
        student_weak: (batch, classes) student logits on the weak view.
        teacher_strong: (batch, classes) teacher logits on the strong view.
        student_strong: (batch, classes) student logits on the strong view.
        level: ``"instance"``, ``"class"`` or ``"batch"``.
        temperature: T, the first of the five temperatures.

    Returns:
        A float32 scalar.

    Example:
        ```python
        loss = mlkd_loss(teacher(x), student(x), teacher(x_strong), student(x_strong), "class")
        ```

    Reference:
        Jin, Wang, Lin, "Multi-Level Logit Distillation", CVPR 2023; the
        authors' ``mdistiller/distillers/KD_ours.py``.
    """
    if level not in LEVELS:
        raise ValueError(f"`level` must be one of {LEVELS}. Received: level={level!r}")
    temperatures = (float(temperature), *EXTRA_TEMPERATURES)
    p_teacher = tf.nn.softmax(tf.cast(teacher_weak, tf.float32), axis=-1)
    if level == "class":
        share = _share_at_most_median(tf.reduce_sum(p_teacher, axis=0))
        return share * sum(
            class_correlation_loss(teacher_weak, student_weak, t) for t in temperatures
        )
    share = _share_at_most_median(tf.reduce_max(p_teacher, axis=-1))
    if level == "batch":
        return share * sum(
            batch_correlation_loss(teacher_weak, student_weak, t) for t in temperatures
        )
    weak = sum(kd_loss(teacher_weak, student_weak, t) for t in temperatures)
    strong = sum(kd_loss(teacher_strong, student_strong, t) for t in temperatures[:3])
    strong += sum(kd_loss(teacher_weak, student_weak, t) for t in temperatures[3:])
    return share * weak + strong


@register_term
class MLKDTerm(Term):
    """One MLKD level on the weak and strong views' logits (`mlkd_loss`).

    Reads ``"output"`` (weak view) and ``"output_strong"`` (strong view) of
    each network's dict, which `MLKD` fills; logged as ``mlkd_{level}_loss``,
    times `level_scale` of the batch's shape when ``scale_reference`` is set.

    Args:
        weight: the level's weight in the total loss.
        level: ``"instance"``, ``"class"`` or ``"batch"``.
        temperature: T, the first of the five temperatures.
        scale_reference: ``(batch size, classes)`` at which the level is
            unscaled (`level_scale`), or None: never scaled.

    Example:
        ```python
        MLKDTerm(0.9, level="batch", temperature=4.0)
        ```

    Reference:
        Jin, Wang, Lin, "Multi-Level Logit Distillation", CVPR 2023.
    """

    name = "mlkd"
    uses_logits = True
    per_sample_logits = True

    def __init__(self, weight=0.9, level="instance", temperature=4.0, scale_reference=None):
        super().__init__(weight)
        if level not in LEVELS:
            raise ValueError(f"`level` must be one of {LEVELS}. Received: level={level!r}")
        self.level = level
        self.temperature = temperature_value("temperature", temperature)
        self.scale_reference = _scale_reference(scale_reference)
        self.name = f"mlkd_{level}"

    def __call__(self, teacher, student, y, sample_weight):
        loss = mlkd_loss(
            teacher[OUTPUT_KEY],
            student[OUTPUT_KEY],
            teacher[STRONG_KEY],
            student[STRONG_KEY],
            self.level,
            self.temperature,
        )
        if self.scale_reference is None or self.level == "instance":
            return loss
        shape = tf.shape(student[OUTPUT_KEY])
        batch = tf.cast(shape[0], tf.float32)
        classes = float(student[OUTPUT_KEY].shape[-1])
        return level_scale(self.level, batch, classes, self.scale_reference) * loss


def _scale_reference(value):
    if value is None:
        return None
    try:
        batch, classes = (float(v) for v in value)
    except (TypeError, ValueError):
        batch = classes = 0.0
    if not (0 < batch < float("inf") and 0 < classes < float("inf")):
        raise ValueError(
            "`scale_reference` must be None or (batch size, classes), two numbers > 0. "
            f"Received: scale_reference={value!r}"
        )
    return (batch, classes)


@register_term
class StrongViewTaskTerm(Term):
    """The student's cross-entropy on the labels, on the strong view.

    Args:
        weight: its weight (`MLKD`'s ``task_weight``, as for the weak view).

    Example:
        ```python
        StrongViewTaskTerm(0.1)  # logged as task_strong_loss
        ```
    """

    name = "task_strong"
    uses_logits = True
    weight_argument = "task_weight"

    def __init__(self, weight=0.1):
        super().__init__(weight)

    def bind(self, distiller):
        self.trainer = distiller

    def __call__(self, teacher, student, y, sample_weight):
        return self.trainer.task_loss(y, student[STRONG_KEY], sample_weight)


def default_strong_augment(value_range=(0, 255)):
    """RandAugment (2 operations) then a random erasing of up to a quarter of
    the image: Keras's counterpart of the authors' strong view (FixMatch's
    RandAugment with Cutout).

    Args:
        value_range: ``(low, high)`` of the images' pixel values; MLKD's
            default is ``(0, 255)``. For images scaled to [0, 1] pass
            ``strong_augment=default_strong_augment((0, 1))``.
    """
    value_range = tuple(value_range)
    return keras.Sequential(
        [
            keras.layers.RandAugment(value_range=value_range, num_ops=2),
            keras.layers.RandomErasing(factor=1.0, scale=(0.0, 0.25), value_range=value_range),
        ],
        name="strong_augment",
    )


@keras.saving.register_keras_serializable(package="keras_kd")
class MLKD(Distiller):
    """MLKD: ``task_weight * (CE_w + CE_s) + feature_weight * (instance + class + batch)``.

    Each step shows both networks the batch as it comes (the weak view: the
    crop and flip of your input pipeline) and a strong view of it
    (``strong_augment``); the three levels of `mlkd_loss` align the
    student's predictions with the teacher's per sample (KD at five
    temperatures), per class (class correlation) and per batch (sample
    correlation); the cross-entropy is taken on both views. Metrics and
    `evaluate` use the weak view. The strong view is new at every step, so
    the teacher runs at every step (`keras_kd.cache` refuses MLKD). Defaults:
    the authors' CIFAR-100 configuration (mdistiller's ``CFG.KD``: T 4, CE
    0.1, KD 0.9, which weighs every level; batch 64, 100 classes).

    The class level grows as ``B^2 / C^3`` and the batch level as ``B / C^2``
    with the batch size B and the classes C (`level_scale`): at batch 128 and
    10 classes the authors' weights make them about 4,000 and 200 times
    larger next to the instance level than at theirs, and training at the
    CIFAR rate 0.1 diverged on CIFAR-10. By default (``scale_reference=(64,
    100)``) both are scaled back to their size at the authors' shape, which
    leaves the authors' setting itself unchanged; ``scale_reference=None`` is
    the authors' code at any shape.

    Differences from the authors' code: their strong view is an independent
    crop and flip of the image followed by RandAugment and Cutout (PIL);
    here it is the weak view through ``strong_augment`` (Keras's RandAugment
    and RandomErasing by default, for inputs in [0, 255]: for images in [0, 1]
    pass ``strong_augment=default_strong_augment((0, 1))``, and for other
    inputs a layer of your own; `fit` warns when its arrays all lie in [0, 1]
    under the default). RandAugment does not compile with XLA, so with the
    default view ``compile(jit_compile=True)`` falls back to no XLA (Keras
    warns). Sample weights weigh the cross-entropy on both views; the three
    levels relate the samples of a batch and weigh them alike (`mlkd_loss`).
    Keras saves neither the seed nor the count of its random layers'
    generators, so a reloaded or resumed MLKD draws other strong views than
    an uninterrupted run would (weights, optimizer and BatchNorm statistics
    are restored exactly).

    Args:
        student: the student, a functional or Sequential model returning logits.
        teacher: the teacher, a model returning logits of the same shape (at
            least 2 classes).
        temperature: T, the first of the five temperatures (T, 3, 5, 2, 6).
        feature_weight: the weight of each level (the authors' KD weight).
        scale_reference: ``(batch size, classes)`` at which the class and
            batch levels keep their weight (`level_scale`), or None.
        task_weight: weight of the cross-entropy on each view.
        strong_augment: a Keras layer (called with ``training=True``) taking a
            batch of inputs and returning a strong augmentation of the same
            shape: the input tensor for a model with one input (also when the
            data give it as a one-entry dict or list), the whole structure for
            several; None: `default_strong_augment` (needs one image input).
        kd_weight: weight of an added Hinton KD term on the weak view (0: none).
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``check_finite``, ``name``).

    Example:
        ```python
        mlkd = MLKD(student, teacher)
        mlkd.compile(optimizer="adam", metrics=["accuracy"])
        mlkd.fit(train, epochs=10)
        ```

    Reference:
        Jin, Wang, Lin, "Multi-Level Logit Distillation", CVPR 2023.
    """

    teacher_cacheable = False

    def __init__(
        self,
        student,
        teacher,
        temperature=4.0,
        feature_weight=0.9,
        scale_reference=AUTHORS_SHAPE,
        task_weight=0.1,
        strong_augment=None,
        kd_weight=0.0,
        **kwargs,
    ):
        super().__init__(student, teacher, **kwargs)
        classes = self.logits_shape[-1]
        if classes < 2:
            raise ValueError(
                "MLKD aligns softmax distributions over classes, so it needs a model with at "
                f"least 2 outputs. Received: a student with {classes} output"
            )
        if strong_augment is None:
            shapes = [tuple(t.shape[1:]) for t in self.student.inputs]
            if len(shapes) != 1 or len(shapes[0]) != 3:
                raise ValueError(
                    "`strong_augment=None` means RandAugment, which needs a student with one "
                    "image input (height, width, channels). Received: student inputs "
                    f"{shapes}; pass a Keras layer as `strong_augment`"
                )
            self.strong_augment = default_strong_augment()
        elif not isinstance(strong_augment, keras.layers.Layer):
            raise ValueError(
                "`strong_augment` must be a Keras layer (saved with the distiller) mapping a "
                f"batch of inputs to a batch of the same shape. Received: {strong_augment!r}"
            )

    def check_fit_data(self, x):
        """Warns when the default strong view (pixel values 0 to 255) gets
        in-memory images whose values all lie in [0, 1].

        Args:
            x: `fit`'s ``x``.
        """
        super().check_fit_data(x)
        arrays = [a for a in tf.nest.flatten(x) if isinstance(a, np.ndarray)]
        if self.arguments["strong_augment"] is None and len(arrays) == 1:
            values = arrays[0]
            scaled = values.size and 0.0 <= values.min() and values.max() <= 1.0
            if values.dtype.kind == "f" and scaled:
                warnings.warn(
                    "MLKD's default strong view takes pixel values from 0 to 255, and `x` "
                    "holds values in [0, 1]: its RandAugment would push them far out of "
                    "range. Pass `strong_augment=keras_kd.distillers.mlkd."
                    "default_strong_augment((0, 1))`, or scale the images to [0, 255].",
                    stacklevel=3,
                )

    def method_terms(self):
        a = self.arguments
        levels = [
            MLKDTerm(a["feature_weight"], level, a["temperature"], a["scale_reference"])
            for level in LEVELS
        ]
        return [*levels, StrongViewTaskTerm(a["task_weight"])]

    def training_view(self, batch):
        """The batch (weak view) with its strong view in ``extras["strong"]``.

        Args:
            batch: the batch read from the data.

        Returns:
            A `Batch`; its checks refuse a step whose strong view holds NaN or inf.
        """
        leaves = tf.nest.flatten(batch.x)
        if len(leaves) == 1:  # one input, given as a tensor or a one-entry dict or list
            strong = tf.nest.pack_sequence_as(
                batch.x, [self.strong_augment(leaves[0], training=True)]
            )
        else:
            strong = self.strong_augment(batch.x, training=True)
        for before, after in zip(leaves, tf.nest.flatten(strong), strict=False):
            if after.shape[1:] != before.shape[1:]:
                raise ValueError(
                    "`strong_augment` must return a batch of the inputs' shape (the strong "
                    "view goes through the same networks). Received: inputs of shape "
                    f"{tuple(before.shape)} became {tuple(after.shape)}"
                )
        checks = batch.checks
        if self.check_finite:
            checks = [*checks, _step_checks.view_check(strong)]
        return batch._replace(checks=checks, extras={**batch.extras, "strong": strong})

    def teacher_outputs(self, view):
        outputs = super().teacher_outputs(view)
        strong = self.teacher(self.teacher_batch(view.extras["strong"]), training=False)
        outputs["teacher"] = {**outputs["teacher"], STRONG_KEY: strong}
        return outputs

    def forward(self, view, training):
        outputs = super().forward(view, training)
        strong = self.student(view.extras["strong"], training=training)
        outputs["student"] = {**outputs["student"], STRONG_KEY: strong}
        return outputs
