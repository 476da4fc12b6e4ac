"""The Distiller template: one `train_step` that every offline method shares."""

import re

import keras
import tensorflow as tf

from keras_kd._checks import layer_name_list, non_negative_float, one_of, positive_int
from keras_kd.features import OUTPUT_KEY, build_feature_extractor
from keras_kd.losses._reduce import batch_mean

_SOFTMAX_LAYERS = (keras.layers.Softmax,)
_NON_FINITE = re.compile(r"keras_kd: non-finite loss term (\w+) at optimizer step\] \[(\d+)\]")


def _ends_in_softmax(model):
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    return isinstance(last, _SOFTMAX_LAYERS) or getattr(activation, "__name__", "") == "softmax"


def check_logits_model(model, argument):
    """Rejects a model whose output is a softmax: distillers need logits."""
    if _ends_in_softmax(model):
        raise ValueError(
            f"`{argument}` must output logits, but its last layer "
            f"{model.layers[-1].name!r} applies a softmax; temperature scaling and "
            "the cross-entropy need the values before it. Rebuild the model with "
            "`activation=None` on its last layer (add the softmax at inference). "
            f"Received: {argument}={model.name!r}"
        )


def task_loss_per_sample(y, logits):
    """Cross-entropy from logits; integer labels (sparse) or one-hot labels."""
    logits = tf.cast(logits, tf.float32)
    if y.shape.rank == logits.shape.rank and y.shape[-1] == logits.shape[-1]:
        return keras.losses.categorical_crossentropy(y, logits, from_logits=True)
    return keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)


def deserialize_models(config, keys):
    """Deserializes the nested model configs ``config[key]`` in place."""
    for key in keys:
        value = config.get(key)
        if isinstance(value, list):
            config[key] = [keras.saving.deserialize_keras_object(v) for v in value]
        elif isinstance(value, dict):
            config[key] = keras.saving.deserialize_keras_object(value)
    return config


@keras.saving.register_keras_serializable(package="keras_kd")
class Distiller(keras.Model):
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

    STAGES = ("train",)
    DEFAULT_STAGE = "train"
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
        super().__init__(**kwargs)
        self._compiled_metrics = None
        self.stage = one_of("stage", stage or self.DEFAULT_STAGE, self.STAGES)
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
        self.check_finite = bool(check_finite)
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
        self._trackers = {name: keras.metrics.Mean(name=f"{name}_loss") for name in self.TERMS}
        self._total_tracker = keras.metrics.Mean(name="loss")
        self.adapters = []
        self.built = True

    @staticmethod
    def _features_only(taps, names):
        """The part of a network up to its tapped layers (no logits)."""
        if not names:
            return None
        return keras.Model(taps.inputs, {name: taps.output[name] for name in names})

    def set_stage(self, stage):
        """Switches the training stage; the next `fit` retraces `train_step`."""
        self.stage = one_of("stage", stage, self.STAGES)
        self.train_function = self.test_function = self.predict_function = None

    def fit_stages(self, stages, optimizer=None, **fit_kwargs):
        """Runs the method's stages in turn through `fit`.

        Args:
            stages: ``[(stage, epochs), ...]`` in order, e.g.
                ``[("hint", 5), ("train", 30)]``.
            optimizer: optional callable ``(stage, epochs) -> optimizer``; each
                stage is then compiled afresh with it (keeping the compiled
                metrics). Without it, the compiled optimizer carries over.
            **fit_kwargs: passed to every `fit` call (data, callbacks, ...).

        Returns:
            ``{stage: History}``.
        """
        histories = {}
        for stage, epochs in stages:
            self.set_stage(stage)
            if optimizer is not None:
                self.compile(optimizer=optimizer(stage, epochs), metrics=self._compiled_metrics)
            epochs = positive_int("epochs", epochs)
            histories[stage] = self.fit(epochs=epochs, **fit_kwargs)
        return histories

    def compile(self, optimizer="rmsprop", metrics=None, **kwargs):
        """`keras.Model.compile`; the task loss is built in, so `loss` is not taken."""
        if kwargs.get("loss") is not None:
            raise ValueError(
                "Distillers compute their own losses; set `task_weight` and "
                f"`distill_weight` instead of `loss`. Received: loss={kwargs['loss']!r}"
            )
        kwargs.pop("loss", None)
        self._compiled_metrics = metrics
        super().compile(optimizer=optimizer, metrics=metrics, **kwargs)
        # Build over every variable any stage trains, so that a stage updating
        # a subset (e.g. a hint stage) does not freeze the optimizer's list.
        self.optimizer.build(self.trainable_variables)

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

    def forward_teacher(self, x, y):
        """Teacher outputs for a batch, in inference mode (not differentiated)."""
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
        raise NotImplementedError(f"{type(self).__name__} must implement compute_losses")

    def task_loss(self, y, logits, sample_weight=None):
        """The student's cross-entropy on the labels (sample-weighted mean)."""
        return batch_mean(task_loss_per_sample(y, logits), sample_weight)

    def _checked(self, name, value):
        if not self.check_finite:
            return value
        step = self.optimizer.iterations
        assertion = tf.debugging.Assert(
            tf.reduce_all(tf.math.is_finite(value)),
            [f"keras_kd: non-finite loss term {name} at optimizer step", step],
        )
        with tf.control_dependencies([assertion]):
            return tf.identity(value)

    def compile_from_config(self, config):
        """Re-compiles a loaded distiller with its saved optimizer and metrics."""
        self.compile(**keras.saving.deserialize_keras_object(config))

    def get_metrics_result(self):
        """Metric values, skipping compiled metrics not built yet (a stage
        without student logits, such as a feature-only stage, builds none)."""
        results = {}
        for metric in self.metrics:
            if not getattr(metric, "built", True):
                continue
            result = metric.result()
            results.update(result if isinstance(result, dict) else {metric.name: result})
        return results

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`; a non-finite loss term stops it with a
        `FloatingPointError` naming the term and the step (before the update)."""
        try:
            return super().fit(*args, **kwargs)
        except tf.errors.InvalidArgumentError as err:
            found = _NON_FINITE.search(err.message)
            if not found:
                raise
            name, step = found.groups()
            raise FloatingPointError(
                f"Training stopped: loss term '{name}' ({name}_loss) is NaN or infinite "
                f"at optimizer step {step}; the weights were not updated with it. Check "
                "the inputs for NaN/inf, lower the learning rate or this term's weight."
            ) from None

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        teacher_out = self.forward_teacher(x, y)
        with tf.GradientTape() as tape:
            student_out = self.forward_student(x, y)
            terms = self.compute_losses(x, y, sample_weight, teacher_out, student_out)
            terms = {name: self._checked(name, value) for name, value in terms.items()}
            weights = self.loss_weights
            total = tf.add_n([weights[name] * value for name, value in terms.items()])
            total += self.regularization_loss()
            scaled = self.optimizer.scale_loss(total)
        variables = self.trainable_variables
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(
            [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
        )
        return self._report(terms, total, x, y, student_out.get(OUTPUT_KEY), sample_weight)

    def regularization_loss(self):
        """The student's and trainable adapters' regularization losses."""
        losses = [loss for layer in self._trainable_parts() for loss in layer.losses]
        return tf.add_n([tf.cast(loss, tf.float32) for loss in losses]) if losses else 0.0

    def _trainable_parts(self):
        return [self.student, *self.adapters]

    def _report(self, terms, total, x, y, logits, sample_weight):
        """Updates the trackers of ``terms`` and the compiled metrics; returns logs."""
        for name, value in terms.items():
            self._trackers[name].update_state(value)
        self._total_tracker.update_state(total)
        if logits is None:
            results = {f"{name}_loss": self._trackers[name].result() for name in terms}
        else:
            results = self.compute_metrics(x, y, logits, sample_weight)
            stale = {f"{name}_loss" for name in self._trackers if name not in terms}
            results = {k: v for k, v in results.items() if k not in stale}
        results["loss"] = self._total_tracker.result()
        return results

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        logits = self.deployable(x, training=False)
        task = self.task_loss(y, logits, sample_weight)
        return self._report({"task": task}, task, x, y, logits, sample_weight)

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
                "check_finite": self.check_finite,
                "stage": self.stage,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_models(dict(config), ("student", "teacher")))
