"""Function matching: a patient and consistent teacher (Beyer et al., CVPR 2022)."""

import random

import keras
import tensorflow as tf

from keras_kd._checks import non_negative_float, non_negative_int
from keras_kd.data.views import crop_flip, mix, mixed_labels, partner_weight
from keras_kd.distillers import _step_checks
from keras_kd.distillers.base import Distiller

DEFAULT_CROP_PADDING = 4  # pixels: the CIFAR pad-and-crop


@keras.saving.register_keras_serializable(package="keras_kd")
class FunctionMatching(Distiller):
    """Function matching: teacher and student see the same random view of each batch.

    Every training step draws one view of the batch and feeds it to both
    networks (to the teacher through `teacher_input`, if any):

    ``v = c(x) + w * (c(x)[perm] - c(x))``, where ``c`` crops and flips each
    image (or is ``augment``), ``perm`` is a random permutation of the batch
    and ``w = min(lam, 1 - lam)`` with ``lam ~ Beta(mixup_alpha, mixup_alpha)``,
    one per batch. The loss is

    ``kd_weight * T^2 * KL(p(t(v), T) || p(s(v), T)) + task_weight * CE(y_v, s(v))``

    with ``y_v`` the labels mixed the same way (class indices as one-hot rows;
    sample weights are mixed too). The paper trains on the KL alone (T = 1, no
    labels), the defaults here; `fit` still takes labels, which are checked
    and feed the training metrics (the student on each view against the
    label of its larger share, the image itself), but with ``task_weight=0``
    they do not enter the loss. The student learns to match the teacher's
    function on the neighbourhood of the data rather than on fixed points.
    `evaluate` uses the clean inputs.

    Why this method in keras_kd: it needs no adapter and no matching feature
    shapes (only the logits), so it works for any teacher and student with the
    same classes, e.g. a `keras.applications` teacher and your own student;
    it is a data recipe (consistent views) plus the KL. Each view is new, so
    it is incompatible with the teacher cache by design: `keras_kd.cache`
    refuses it and so does `fit` on a cached dataset. The teacher runs at
    every step.

    Differences from the paper (ImageNet-scale images): the paper crops with
    Inception crops, here images are zero-padded by ``crop_padding`` pixels
    and cropped back (the CIFAR recipe, for small images). The authors' code
    (big_vision ``configs/proj/distill``, ``utils.mixup``) draws one
    coefficient per batch from Dirichlet(1, 1) = Beta(1, 1), gives the larger
    share to the image itself (``lam = max(lam, 1 - lam)``, as here) and
    mixes each image with its neighbour in the shuffled batch; here the
    partner is a random permutation. The gains need very long schedules (the
    paper: hundreds to thousands of epochs); short runs show little of them.
    Randomness comes from stateless random ops seeded by the distiller's
    ``view_seed`` variable, initialized from Python's `random` (which
    `keras.utils.set_random_seed` seeds: set it before building the
    distiller); the variable is saved with the distiller and restored by
    `keras.callbacks.BackupAndRestore`, so a resumed run draws the same views.

    Args:
        student: the student, a functional or Sequential model returning logits.
        teacher: the teacher, a model returning logits of the same shape.
        mixup_alpha: alpha of the Beta(alpha, alpha) mixing coefficient, >= 0
            (0: no mixup; the authors' configs use 1).
        crop_padding: pixels of zero padding before the random crop (0: no
            crop); None means 4 without ``augment`` and 0 with it. Needs a
            student with one image input (height, width, channels).
        flip: random left-right flips; None means True without ``augment``
            and False with it.
        augment: optional callable (a Keras layer, called with
            ``training=True``, or a function) taking a batch of inputs and
            returning a batch of the same shape, used instead of the built-in
            crop and flip (then ``crop_padding`` and ``flip`` must stay None).
            Only a Keras layer can be saved with the distiller.
        temperature: T of the KL, in (0, 1000] (the paper: 1).
        kd_weight: weight of the KL term.
        task_weight: weight of the cross-entropy on the mixed labels (the paper: 0).
        **kwargs: other `Distiller` arguments (``terms``, ``teacher_input``,
            ``logit_standardization``, ``check_finite``, ``name``); extra terms
            get the view and the mixed labels.

    Example:
        ```python
        teacher = keras.applications.ResNet50V2(weights=None, classes=10,
                                                 classifier_activation=None)
        fm = keras_kd.distillers.FunctionMatching(
            student, teacher, teacher_input=keras.layers.Resizing(224, 224)
        )
        fm.compile(optimizer="adam", metrics=["accuracy"])
        fm.fit(train, epochs=100, validation_data=val)
        ```

    Reference:
        Beyer, Zhai, Royer, Markeeva, Anil, Kolesnikov, "Knowledge
        distillation: A good teacher is patient and consistent", CVPR 2022.
    """

    teacher_cacheable = False

    def __init__(
        self,
        student,
        teacher,
        mixup_alpha=1.0,
        crop_padding=None,
        flip=None,
        augment=None,
        temperature=1.0,
        kd_weight=1.0,
        task_weight=0.0,
        **kwargs,
    ):
        self._check_view_arguments(mixup_alpha, crop_padding, flip, augment)
        super().__init__(student, teacher, **kwargs)
        if augment is None:
            self._padding = DEFAULT_CROP_PADDING if crop_padding is None else crop_padding
            self._flip = True if flip is None else flip
        else:
            self._padding, self._flip = 0, False
            self._check_augment()
        if self._padding or self._flip:
            self._check_image_input()
        self.view_seed = keras.Variable(
            [random.randint(1, 2**31 - 1), 0],
            dtype="int32",
            trainable=False,
            aggregation="only_first_replica",
            name="view_seed",
        )

    def _check_view_arguments(self, mixup_alpha, crop_padding, flip, augment):

        non_negative_float("mixup_alpha", mixup_alpha)
        if crop_padding is not None:
            non_negative_int("crop_padding", crop_padding)
        if flip is not None and not isinstance(flip, bool):
            raise ValueError(f"`flip` must be True, False or None. Received: flip={flip!r}")
        if augment is not None:
            if not callable(augment):
                raise ValueError(
                    "`augment` must be a Keras layer or a function taking a batch of "
                    f"inputs and returning a batch of the same shape. Received: augment={augment!r}"
                )
            if crop_padding is not None or flip is not None:
                raise ValueError(
                    "`augment` replaces the built-in crop and flip: pass `augment` or "
                    f"`crop_padding`/`flip`, not both. Received: augment={augment!r}, "
                    f"crop_padding={crop_padding!r}, flip={flip!r}"
                )

    def _check_image_input(self):
        shapes = [tuple(t.shape[1:]) for t in self.student.inputs]
        if len(shapes) != 1 or len(shapes[0]) != 3:
            raise ValueError(
                "`crop_padding` and `flip` crop and flip images, so they need a student with "
                "one input of shape (height, width, channels). Received: student inputs "
                f"{shapes}; pass crop_padding=0 and flip=False, or an `augment` function"
            )

    def _augment(self, x):
        if isinstance(self.augment, keras.layers.Layer):
            return self.augment(x, training=True)
        return self.augment(x)

    def _check_augment(self):
        if len(self.student.inputs) != 1 or None in self.student.inputs[0].shape[1:]:
            return
        probe = tf.zeros((2, *self.student.inputs[0].shape[1:]), self.student.inputs[0].dtype)
        try:
            out = self._augment(probe)
        except Exception as err:  # the user's callable failed on a batch of the student's inputs
            raise ValueError(
                f"`augment` must accept a batch of the student's inputs {tuple(probe.shape)}; "
                f"calling it failed: {type(err).__name__}: {err}. "
                f"Received: augment={self.augment!r}"
            ) from None
        got = tuple(out.shape) if keras.ops.is_tensor(out) else type(out).__name__
        if got != tuple(probe.shape):
            raise ValueError(
                "`augment` must return a batch of the same shape as it takes. Received: "
                f"augment={self.augment!r}, which maps {tuple(probe.shape)} to {got}"
            )

    def _next_seed(self):
        seed = tf.identity(self.view_seed.value)
        self.view_seed.assign_add([0, 1])
        return seed

    def draw_view(self, x):
        """Draws one view of a batch: crop and flip (or ``augment``), then mixup.

        Args:
            x: a batch of inputs (a tensor, or a structure of tensors for a
                multi-input model when crop and flip are off).

        Returns:
            ``(view, partner, partner_weight)``: the view, the permutation of
            the batch each sample is mixed with, and that partner's weight in
            [0, 0.5] (0 and the identity permutation when mixup is off).

        Example:
            ```python
            view, partner, weight = fm.draw_view(images)  # fed to both networks
            ```
        """
        if self.augment is not None:
            out = self._augment(x)
            if not keras.ops.is_tensor(out) or not out.shape.is_compatible_with(x.shape):
                raise ValueError(
                    "`augment` must return a batch of the same shape as it takes. Received: "
                    f"augment={self.augment!r}, which maps {x.shape} to "
                    f"{getattr(out, 'shape', type(out).__name__)}"
                )
            x = out
        elif self._padding or self._flip:
            x = crop_flip(x, self._padding, self._flip, self._next_seed)
        batch = tf.shape(tf.nest.flatten(x)[0])[0]
        if not self.mixup_alpha:
            return x, tf.range(batch), tf.constant(0.0)
        weight = partner_weight(self.mixup_alpha, self._next_seed())
        partner = tf.argsort(tf.random.stateless_uniform((batch,), self._next_seed()))
        return tf.nest.map_structure(lambda v: mix(v, partner, weight), x), partner, weight

    def training_view(self, batch):
        """One view per step, fed to both networks; labels and sample weights
        mixed like the inputs (see `Distiller.training_view`).

        Args:
            batch: the batch read from the data.

        Returns:
            The view's `Batch`, its checks refusing a step whose view holds NaN or inf.
        """
        view, partner, weight = self.draw_view(batch.x)
        checks = (
            [*batch.checks, _step_checks.view_check(view)] if self.check_finite else batch.checks
        )
        y, sample_weight = batch.y, batch.sample_weight
        if self.mixup_alpha:
            num_outputs = self.logits_shape[-1]
            y = None if y is None else mixed_labels(y, partner, weight, num_outputs)
            if sample_weight is not None:
                sample_weight = mix(sample_weight, partner, weight)
        return batch._replace(x=view, y=y, sample_weight=sample_weight, checks=checks)
