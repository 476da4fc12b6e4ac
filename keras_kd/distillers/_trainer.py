"""What every keras_kd training scheme shares: named loss terms and their
trackers, finite checks, stages, the gradient step and metric reporting.

`Distiller` (a frozen teacher, one student) and the online and
self-distillation schemes (several trained outputs, no frozen teacher) are
both built on `TermTrainer`.
"""

import re

import keras
import numpy as np
import tensorflow as tf

from keras_kd._checks import one_of, positive_int
from keras_kd.distillers._cached import MISMATCH_MARKER
from keras_kd.distillers._data_checks import (
    LABEL_RANGE_MARKER,
    assert_labels_in_range,
    check_fit_data,
)
from keras_kd.distillers._multi_worker import MultiWorkerFitMixin
from keras_kd.losses._reduce import batch_mean

_NON_FINITE = re.compile(r"keras_kd: non-finite loss term (\w+) at optimizer step\] \[(\d+)\]")
_LABELS = re.compile(LABEL_RANGE_MARKER + r"\] \[(\d+)\] \[(-?\d+)\] \[(-?\d+)\]")


def _ends_in_softmax(model):
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    return (
        isinstance(last, keras.layers.Softmax) or getattr(activation, "__name__", "") == "softmax"
    )


def check_logits_model(model, argument):
    """Rejects a model whose output is a softmax: distillation needs logits."""
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


def top1_correct(y, logits):
    """1.0 where the arg-max logit is the label (integer or one-hot), else 0.0."""
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
    if y.shape.rank == logits.shape.rank and y.shape[-1] == logits.shape[-1]:
        y = tf.argmax(y, axis=-1, output_type=tf.int32)
    labels = tf.cast(tf.reshape(y, tf.shape(predicted)), tf.int32)
    return tf.cast(tf.equal(predicted, labels), tf.float32)


def deserialize_models(config, keys):
    """Deserializes the nested model configs ``config[key]`` in place."""
    for key in keys:
        value = config.get(key)
        if isinstance(value, list):
            config[key] = [keras.saving.deserialize_keras_object(v) for v in value]
        elif isinstance(value, dict):
            config[key] = keras.saving.deserialize_keras_object(value)
    return config


CACHE_MISMATCH_MESSAGE = (
    "The inputs no longer match the teacher cache (`x` differs from the input its "
    "teacher outputs were computed on): the pipeline is not deterministic, e.g. a "
    "random augmentation before or after `cache_teacher_outputs`, or the dataset "
    "changed. Remove the augmentation or do not cache the teacher. Received: a batch "
    "whose input fingerprints differ from the cached ones"
)


class StopOnNonFiniteTerm(keras.callbacks.Callback):
    """Stops `fit` when a logged loss term is NaN or infinite, naming it.

    XLA drops in-graph assertions, so under ``jit_compile`` this is the
    check (after the step's update; the run stops and nothing is saved).
    """

    def on_train_batch_end(self, batch, logs=None):
        if float((logs or {}).get("teacher_cache_mismatch", 0.0)) > 0:
            raise ValueError(CACHE_MISMATCH_MESSAGE)
        for key, value in (logs or {}).items():
            if key.endswith("_loss") and not np.isfinite(float(value)):
                step = int(self.model.optimizer.iterations.numpy())
                raise FloatingPointError(
                    f"Training stopped: loss term '{key[: -len('_loss')]}' ({key}) is NaN or "
                    f"infinite at optimizer step {step} (epoch batch {batch}). Check the inputs "
                    "for NaN/inf and the labels' range, lower the learning rate or this "
                    "term's weight."
                )


class TermTrainer(MultiWorkerFitMixin, keras.Model):
    """Base of every keras_kd scheme: a `keras.Model` trained on named terms.

    A subclass lists its term names in ``TERMS`` (or passes ``terms``) and
    returns their weights from `loss_weights`. Its `train_step` computes a dict
    of raw scalar terms under a gradient tape, passes it to `weighted_total`
    (finite checks, weights, regularization), then calls `apply_gradients_of`
    and `report`. Every raw term is logged as ``{name}_loss``, the weighted
    total as ``loss``. Multi-stage schemes list ``STAGES``.
    """

    STAGES = ("train",)
    DEFAULT_STAGE = "train"
    TERMS = ("task",)

    def __init__(self, check_finite=True, stage=None, terms=None, **kwargs):
        super().__init__(**kwargs)
        self._compiled_metrics = None
        self.check_finite = bool(check_finite)
        self.stage = one_of("stage", stage or self.DEFAULT_STAGE, self.STAGES)
        self.terms = tuple(terms or self.TERMS)
        self._trackers = {name: keras.metrics.Mean(name=f"{name}_loss") for name in self.terms}
        self._total_tracker = keras.metrics.Mean(name="loss")
        self.adapters = []
        self.built = True

    @property
    def loss_weights(self):
        """Mapping from each active term to its weight in the total loss."""
        return {name: 1.0 for name in self.terms}

    def trained_models(self):
        """The models whose regularization losses join the total."""
        return list(self.adapters)

    def set_stage(self, stage):
        """Switches the training stage; the next `fit` retraces `train_step`."""
        self.stage = one_of("stage", stage, self.STAGES)
        self.train_function = self.test_function = self.predict_function = None

    def fit_stages(self, stages, optimizer=None, **fit_kwargs):
        """Runs the method's stages in turn through `fit`.

        Args:
            stages: ``[(stage, epochs), ...]`` in order, e.g.
                ``[("hint", 5), ("joint", 30)]``.
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
        """`keras.Model.compile`; losses are built in, so `loss` is not taken."""
        if kwargs.get("loss") is not None:
            raise ValueError(
                "keras_kd schemes compute their own losses; set their weights (e.g. "
                f"`task_weight`, `distill_weight`) instead of `loss`. Received: "
                f"loss={kwargs['loss']!r}"
            )
        kwargs.pop("loss", None)
        self._compiled_metrics = metrics
        super().compile(optimizer=optimizer, metrics=metrics, **kwargs)
        # Build over every variable any stage trains, so that a stage updating
        # a subset (e.g. a hint stage) does not freeze the optimizer's list.
        self.optimizer.build(self.trainable_variables)

    def compile_from_config(self, config):
        """Re-compiles a loaded model with its saved optimizer and metrics."""
        self.compile(**keras.saving.deserialize_keras_object(config))

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`; a non-finite loss term stops it with a
        `FloatingPointError` naming the term and the step (before the update)."""
        x = args[0] if args else kwargs.get("x")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        check_fit_data(self.deployable, x, y)
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself
        if self.check_finite:
            kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), StopOnNonFiniteTerm()]
        try:
            return super().fit(*args, **kwargs)
        except tf.errors.InvalidArgumentError as err:
            if MISMATCH_MARKER in err.message:
                raise ValueError(CACHE_MISMATCH_MESSAGE) from None
            labels = _LABELS.search(err.message)
            if labels:
                classes, low, high = labels.groups()
                raise ValueError(
                    f"`y` labels must be class indices in [0, {int(classes) - 1}]. Received: "
                    f"a batch with labels from {low} to {high}; training stopped before "
                    "updating on it"
                ) from None
            found = _NON_FINITE.search(err.message)
            if not found:
                raise
            name, step = found.groups()
            raise FloatingPointError(
                f"Training stopped: loss term '{name}' ({name}_loss) is NaN or infinite "
                f"at optimizer step {step}; the weights were not updated with it. Check "
                "the inputs for NaN/inf, lower the learning rate or this term's weight."
            ) from None

    def unpack(self, data):
        """``(x, y, sample_weight)`` of a batch, with ``x`` given the static
        shape of the model's input (checked at run time): pipelines that decode
        images have unknown height and width, which feature alignment needs."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if keras.ops.is_tensor(x):
            x = tf.ensure_shape(x, [None, *self.deployable.inputs[0].shape[1:]])
        return x, y, sample_weight

    def task_loss(self, y, logits, sample_weight=None):
        """Cross-entropy of ``logits`` on the labels (sample-weighted mean);
        sparse labels outside the class range stop training with a clear error."""
        with tf.control_dependencies([assert_labels_in_range(y, logits.shape[-1])]):
            return batch_mean(task_loss_per_sample(y, logits), sample_weight)

    def regularization_loss(self):
        """The regularization losses of the trained models."""
        losses = [loss for model in self.trained_models() for loss in model.losses]
        return tf.add_n([tf.cast(loss, tf.float32) for loss in losses]) if losses else 0.0

    def _checked(self, name, value):
        if not self.check_finite:
            return value
        assertion = tf.debugging.Assert(
            tf.reduce_all(tf.math.is_finite(value)),
            [f"keras_kd: non-finite loss term {name} at optimizer step", self.optimizer.iterations],
        )
        with tf.control_dependencies([assertion]):
            return tf.identity(value)

    def weighted_total(self, terms):
        """Checks each raw term and returns ``(checked terms, weighted total)``.

        The total includes the trained models' regularization losses.
        """
        terms = {name: self._checked(name, value) for name, value in terms.items()}
        weights = self.loss_weights
        total = tf.add_n([weights[name] * value for name, value in terms.items()])
        return terms, total + self.regularization_loss()

    def apply_gradients_of(self, tape, total):
        """Scales the loss (loss scaling for mixed precision, 1/replicas under a
        distribution strategy), differentiates it and updates the variables that
        got a gradient (frozen parts and stage-unused adapters get none)."""
        variables = self.trainable_variables
        # Replicas' gradients are summed, so each replica minimizes its share.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tape:  # the loss scaling (mixed precision) must be recorded too
            scaled = self.optimizer.scale_loss(total / replicas if replicas > 1 else total)
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(
            [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
        )

    def get_metrics_result(self):
        """Metric values, skipping compiled metrics not built yet (a stage
        without logits, such as a feature-only stage, builds none)."""
        results = {}
        for metric in self.metrics:
            if not getattr(metric, "built", True):
                continue
            result = metric.result()
            results.update(result if isinstance(result, dict) else {metric.name: result})
        return results

    def track_accuracy(self, names):
        """Creates one top-1 accuracy tracker per named output (peers, branches,
        exits), reported by `accuracy_logs`."""
        self._accuracy = [keras.metrics.Mean(name=f"{name}_accuracy") for name in names]

    def accuracy_logs(self, y, outputs, sample_weight):
        """Updates the trackers of `track_accuracy` with ``outputs`` (logits, in
        the same order) and returns their values."""
        logs = {}
        for tracker, logits in zip(self._accuracy, outputs, strict=True):
            tracker.update_state(batch_mean(top1_correct(y, logits), sample_weight))
            logs[tracker.name] = tracker.result()
        return logs

    def report(self, terms, total, x, y, logits, sample_weight):
        """Updates the trackers of ``terms`` and the compiled metrics on
        ``logits`` (skipped when None); returns the step's logs."""
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

    def get_config(self):
        return {**super().get_config(), "check_finite": self.check_finite, "stage": self.stage}
