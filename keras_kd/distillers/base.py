"""The Distiller template: one `train_step` that every offline method shares."""

import keras
import tensorflow as tf

from keras_kd._checks import layer_name_list, non_negative_float
from keras_kd.distillers._cached import MISMATCH_MARKER, mismatch_fraction, split_cached
from keras_kd.distillers._trainer import (
    TermTrainer,
    check_logits_model,
    deserialize_models,
    task_loss_per_sample,
)
from keras_kd.features import OUTPUT_KEY, build_feature_extractor, model_input

__all__ = ["Distiller", "check_logits_model", "task_loss_per_sample"]


@keras.saving.register_keras_serializable(package="keras_kd")
class Distiller(TermTrainer):
    """Base class of the offline distillers (a frozen teacher, one student).

    Each network runs once per step through a dict-output feature extractor
    (`keras_kd.features.build_feature_extractor`): the teacher in inference
    mode outside the gradient tape, the student in training mode inside it.
    A subclass implements `compute_losses`, returning a dict of named raw loss
    terms, and `loss_weights`, the weight of each term. The step minimizes
    ``sum(weight * term) + student regularization``, logs every raw term as
    ``{name}_loss`` and the total as ``loss``, and updates the compiled
    metrics on the student's logits. `test_step` runs the student alone.

    Args:
        student: a functional Keras model that outputs logits (trained).
        teacher: a functional Keras model with the same input and output
            shapes (frozen: never updated, BatchNorm statistics included).
        task_weight: weight of the student's cross-entropy on the labels.
        distill_weight: weight of the method's distillation term.
        student_layers: names of the student layers the method taps.
        teacher_layers: names of the matching teacher layers.
        check_finite: stop with an error naming the term and the step when a
            loss term becomes NaN or infinite.
        stage: the training stage of a multi-stage method (see `STAGES`);
            `set_stage` changes it, `fit_stages` runs several in turn.
        **kwargs: passed to `keras.Model`.
    """

    FEATURE_ONLY_STAGES = ()
    TERMS = ("task", "distill")

    def __init__(
        self,
        student,
        teacher,
        task_weight=1.0,
        distill_weight=1.0,
        student_layers=None,
        teacher_layers=None,
        check_finite=True,
        stage=None,
        **kwargs,
    ):
        super().__init__(check_finite=check_finite, stage=stage, **kwargs)
        self.task_weight = non_negative_float("task_weight", task_weight)
        self.distill_weight = non_negative_float("distill_weight", distill_weight)
        self.student_layers = layer_name_list("student_layers", student_layers)
        self.teacher_layers = layer_name_list("teacher_layers", teacher_layers)
        if len(self.student_layers) != len(self.teacher_layers):
            raise ValueError(
                "`student_layers` and `teacher_layers` must have the same length "
                "(one teacher layer per student layer). Received: "
                f"student_layers={self.student_layers}, teacher_layers={self.teacher_layers}"
            )
        self.student_taps = build_feature_extractor(
            student, self.student_layers, argument="student_layers"
        )
        self.teacher_taps = build_feature_extractor(
            teacher, self.teacher_layers, argument="teacher_layers"
        )
        self.student = student
        self.teacher = teacher
        self._check_pair()
        self.student_feature_taps = self._features_only(self.student_taps, self.student_layers)
        self.teacher_feature_taps = self._features_only(self.teacher_taps, self.teacher_layers)
        self.teacher.trainable = False
        self._cache_mismatch = keras.metrics.Mean(name="teacher_cache_mismatch")

    @staticmethod
    def _features_only(taps, names):
        """The part of a network up to its tapped layers (no logits)."""
        if not names:
            return None
        return keras.Model(model_input(taps), {name: taps.output[name] for name in names})

    def _check_pair(self):
        check_logits_model(self.student, "student")
        check_logits_model(self.teacher, "teacher")
        s_in, t_in = self.student.inputs[0].shape[1:], self.teacher.inputs[0].shape[1:]
        if tuple(s_in) != tuple(t_in):
            raise ValueError(
                "`student` and `teacher` must take inputs of the same shape. "
                f"Received: student input {tuple(s_in)}, teacher input {tuple(t_in)}"
            )
        s_out, t_out = (
            self.student.outputs[0].shape[1:],
            self.teacher.outputs[0].shape[1:],
        )
        if tuple(s_out) != tuple(t_out):
            raise ValueError(
                "`student` and `teacher` must output the same number of classes. "
                f"Received: student output {tuple(s_out)}, teacher output {tuple(t_out)}"
            )

    def feature_shape(self, network, name):
        """Static shape of a tapped feature, ``network`` being student or teacher."""
        taps = self.student_taps if network == "student" else self.teacher_taps
        return tuple(taps.output[name].shape)

    @property
    def loss_weights(self):
        """Mapping from term name to its weight in the total loss."""
        return {"task": self.task_weight, "distill": self.distill_weight}

    @property
    def deployable(self):
        """The plain Keras model that is saved and exported."""
        return self.student

    def call(self, inputs, training=False):
        return self.deployable(inputs, training=training)

    def teacher_outputs_for_cache(self, x, y):
        """What `keras_kd.cache` stores per sample: logits and every tap."""
        return self.teacher_taps(x, training=False)

    def forward_teacher(self, x, y, cached=None):
        """Teacher outputs for a batch, in inference mode (not differentiated);
        ``cached`` holds them when the batch comes from a teacher cache."""
        if cached is not None:
            return cached
        if self.stage in self.FEATURE_ONLY_STAGES:
            return self.teacher_feature_taps(x, training=False)
        return self.teacher_taps(x, training=False)

    def forward_student(self, x, y):
        """Student outputs for a batch, in training mode (inside the tape).

        In a feature-only stage only the layers up to the taps run.
        """
        if self.stage in self.FEATURE_ONLY_STAGES:
            return self.student_feature_taps(x, training=True)
        return self.student_taps(x, training=True)

    def compute_losses(self, x, y, sample_weight, teacher_out, student_out):
        """Returns ``{term name: raw scalar}`` with the keys of `loss_weights`."""
        raise TypeError(
            f"{type(self).__name__} uses the Distiller base class directly: a method "
            "subclasses Distiller and overrides compute_losses (see keras_kd.distillers.KD)."
        )

    def trained_models(self):
        return [self.student, *self.adapters]

    def train_step(self, data):
        x, y, sample_weight = self.unpack(data)
        y, cached, prints = split_cached(y)
        checks = []
        if cached is not None:
            mismatch = mismatch_fraction(x, prints)
            self._cache_mismatch.update_state(mismatch)
            checks.append(
                tf.debugging.Assert(
                    mismatch == 0.0, [MISMATCH_MARKER, mismatch, self.optimizer.iterations]
                )
            )
        with tf.control_dependencies(checks):
            teacher_out = self.forward_teacher(x, y, cached)
        with tf.GradientTape() as tape:
            student_out = self.forward_student(x, y)
            raw = self.compute_losses(x, y, sample_weight, teacher_out, student_out)
            terms, total = self.weighted_total(raw)
        self.apply_gradients_of(tape, total)
        logs = self.report(terms, total, x, y, student_out.get(OUTPUT_KEY), sample_weight)
        if cached is None:
            logs.pop(self._cache_mismatch.name, None)
        else:
            logs[self._cache_mismatch.name] = self._cache_mismatch.result()
        return logs

    def test_step(self, data):
        x, y, sample_weight = self.unpack(data)
        y = split_cached(y)[0]
        logits = self.deployable(x, training=False)
        task = self.task_loss(y, logits, sample_weight)
        logs = self.report({"task": task}, task, x, y, logits, sample_weight)
        logs.pop(self._cache_mismatch.name, None)
        return logs

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "student": keras.saving.serialize_keras_object(self.student),
                "teacher": keras.saving.serialize_keras_object(self.teacher),
                "task_weight": self.task_weight,
                "distill_weight": self.distill_weight,
                "student_layers": self.student_layers,
                "teacher_layers": self.teacher_layers,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_models(dict(config), ("student", "teacher")))
