"""What every keras_kd training scheme shares: named loss terms and their
trackers, the guarded gradient step, stages and metric reporting.

`Distiller` (a frozen teacher, one student) and the online and
self-distillation schemes (several trained outputs, no frozen teacher) are
both built on `TermTrainer`.
"""

import keras
import tensorflow as tf

from keras_kd import labels
from keras_kd.distillers import _guard
from keras_kd.distillers._data_checks import check_fit_data
from keras_kd.distillers._multi_worker import MultiWorkerFitMixin
from keras_kd.losses._reduce import batch_mean


def deserialize_models(config, keys):
    """Deserializes the nested model configs ``config[key]`` in place."""
    for key in keys:
        value = config.get(key)
        if isinstance(value, list):
            config[key] = [keras.saving.deserialize_keras_object(v) for v in value]
        elif isinstance(value, dict):
            config[key] = keras.saving.deserialize_keras_object(value)
    return config


RENAMED = {
    "distill_weight": "feature_weight (a method's own term) or kd_weight (KD's)",
    "deploy_branch": "deploy_index",
    "mode": "GradientAttentionTransfer (a class of its own)",
    "stage": "set_stage('init' | 'main')",
}


def renamed_arguments(cls):
    """``{old name: new name}`` of a class's arguments renamed in 0.2."""
    return {**RENAMED, **getattr(cls, "RENAMED_ARGUMENTS", {})}


def refuse_renamed(cls, arguments):
    """Raises a TypeError naming the new names of arguments renamed in 0.2."""
    renamed = renamed_arguments(cls)
    old = [k for k in arguments if k in renamed]
    if old:
        raise TypeError(
            f"{cls.__name__} got arguments renamed in keras_kd 0.2: "
            f"{'; '.join(f'{k} -> {renamed[k]}' for k in old)}. Received: "
            f"{', '.join(f'{k}={arguments[k]!r}' for k in old)}"
        )


def _binary_accuracy_for_logits(metrics, num_outputs):
    """``"accuracy"`` on a single logit means logit > 0, not probability > 0.5."""
    if num_outputs != 1 or metrics is None:
        return metrics
    return [
        keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)
        if m in ("accuracy", "acc")
        else m
        for m in metrics
    ]


class TermTrainer(MultiWorkerFitMixin, keras.Model):
    """Base of every keras_kd scheme: a `keras.Model` trained on named terms.

    A subclass names its terms (``terms``) and returns their weights from
    `loss_weights`. Its `train_step` computes a dict of raw scalar terms under
    a gradient tape and hands it to `guarded_update`, which weighs them, adds
    the regularization losses, differentiates, and applies the update only
    when every term and gradient is finite and the batch passed its checks
    (see `keras_kd.distillers._guard`). Every raw term is logged as
    ``{name}_loss``, the weighted total as ``loss``.
    """

    def __init__(self, check_finite=True, terms=("task",), **kwargs):
        refuse_renamed(type(self), kwargs)
        super().__init__(**kwargs)
        self._compiled_metrics = None
        self.check_finite = bool(check_finite)
        self.term_names = tuple(terms)
        self._trackers = {n: keras.metrics.Mean(name=f"{n}_loss") for n in self.term_names}
        self._total_tracker = keras.metrics.Mean(name="loss")
        self.guard = _guard.StepGuard()
        self.built = True

    @property
    def deployable(self):
        """The plain Keras model that is saved and exported."""
        raise TypeError(
            f"{type(self).__name__} must define `deployable`: the plain Keras model it trains "
            "for deployment (a student, a peer, a branch or an exit)."
        )

    @property
    def loss_weights(self):
        """Mapping from each active term to its weight in the total loss."""
        return {name: 1.0 for name in self.term_names}

    def trained_models(self):
        """The models this scheme trains (their regularization losses join the total)."""
        return []

    def trained_variables(self):
        """Trainable variables of `trained_models`, each once, in a fixed order."""
        seen, variables = set(), []
        for model in self.trained_models():
            for v in model.trainable_variables:
                if id(v) not in seen:
                    seen.add(id(v))
                    variables.append(v)
        return variables

    def compile(self, optimizer="rmsprop", metrics=None, **kwargs):
        """`keras.Model.compile`; losses are built in, so `loss` is not taken."""
        if kwargs.get("loss") is not None:
            raise ValueError(
                "keras_kd schemes compute their own losses; set their weights (e.g. "
                f"`task_weight`, `kd_weight`) instead of `loss`. Received: "
                f"loss={kwargs['loss']!r}"
            )
        kwargs.pop("loss", None)
        self._compiled_metrics = metrics
        metrics = _binary_accuracy_for_logits(metrics, self.deployable.outputs[0].shape[-1])
        super().compile(optimizer=optimizer, metrics=metrics, **kwargs)
        # Every variable any stage trains, so a stage updating a subset (e.g.
        # an init stage) does not freeze the optimizer's list.
        self.optimizer.build(self.trained_variables())

    def compile_from_config(self, config):
        """Re-compiles a loaded model with its saved optimizer and metrics."""
        self.compile(**keras.saving.deserialize_keras_object(config))

    def _with_guard(self, kwargs):
        if isinstance(kwargs.get("callbacks"), keras.callbacks.CallbackList):
            return kwargs  # evaluate inside fit: the guard is in fit's list already
        callbacks = list(kwargs.get("callbacks") or [])
        kwargs["callbacks"] = [_guard.GuardCallback(self), *callbacks]
        return kwargs

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`, with the data checked first and every step guarded.

        Raises:
            ValueError: data the deployable model cannot be trained on
                (checked before any update).
            keras_kd.errors.NonFiniteLossError: a term or gradient became NaN
                or infinite; that step was not applied.
            keras_kd.errors.LabelError: a batch held labels of the wrong kind
                or range; that step was not applied.
        """
        x = args[0] if args else kwargs.get("x")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        check_fit_data(self.deployable, x, y, kwargs.get("sample_weight"))
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself
        return super().fit(*args, **self._with_guard(kwargs))

    def evaluate(self, *args, **kwargs):
        """`keras.Model.evaluate`; NaN or inf outputs stop it with an error."""
        if not isinstance(kwargs.get("callbacks"), keras.callbacks.CallbackList):
            self.guard.in_fit = False  # called by the user, not by fit's validation
        return super().evaluate(*args, **self._with_guard(kwargs))

    def unpack(self, data):
        """``(x, y, sample_weight, checks)`` of a batch. A single-tensor ``x``
        gets the static shape of the model's input (pipelines that decode
        images have unknown height and width, which alignment needs); a batch
        of another size, or NaN/inf in ``x`` or the sample weights, is a fault
        of the step (see `keras_kd.distillers._guard`)."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        inputs = self.deployable.inputs
        checks = []
        if keras.ops.is_tensor(x) and len(inputs) == 1:
            x, check = _guard.checked_input(x, inputs[0].shape[1:])
            checks.append(check)
        if self.check_finite:
            checks += _guard.data_checks(x, sample_weight)
        return x, y, sample_weight, checks

    def task_loss(self, y, logits, sample_weight=None):
        """Cross-entropy of ``logits`` on the labels (sample-weighted mean)."""
        return batch_mean(labels.task_loss_per_sample(y, logits), sample_weight)

    def regularization_loss(self):
        """The regularization losses of the trained models."""
        losses = [loss for model in self.trained_models() for loss in model.losses]
        return tf.add_n([tf.cast(loss, tf.float32) for loss in losses]) if losses else 0.0

    def batch_checks(self, y, outputs):
        """``[(fault, code, detail)]``: labels of the wrong kind, or outputs
        that are probabilities rather than logits."""
        checks = [_guard.label_check(y, self.deployable.outputs[0].shape[-1])]
        self.guard.names["outputs"] = [name for name, _ in outputs]
        for i, (_, value) in enumerate(outputs):
            fault = _guard.are_probabilities(value)
            checks.append((fault, _guard.PROBABILITIES_BASE + i, _guard.NO_DETAIL))
        return checks

    def weighted_total(self, terms):
        """``sum(weight * term)`` over the raw terms plus regularization."""
        weights = self.loss_weights
        total = tf.add_n([weights[name] * value for name, value in terms.items()])
        return total + self.regularization_loss()

    def guarded_update(self, tape, terms, total, snapshot, checks=()):
        """Differentiates ``total`` and applies the update unless a check, a
        term or a gradient is faulty (then ``snapshot`` is restored).

        The loss is scaled for mixed precision and by 1/replicas under a
        distribution strategy (replicas' gradients are summed)."""
        variables = self.trained_variables()
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tape:  # the loss scaling (mixed precision) must be recorded too
            scaled = self.optimizer.scale_loss(total / replicas if replicas > 1 else total)
        grads = tape.gradient(scaled, variables)
        faults = list(checks)
        self.guard.names["training"] = list(terms)
        if self.check_finite:
            faults += _guard.term_faults(list(terms.values()))
            if not isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
                faults.append(_guard.gradient_fault(grads))  # it skips those steps itself
        pairs = [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
        self.guard.apply_if_clean(faults, self.optimizer, pairs, snapshot)

    def guarded_evaluation(self, terms, checks=()):
        """Records a faulty validation batch (non-finite terms, bad labels)."""
        self.guard.names["validation"] = list(terms)
        faults = list(checks)
        if self.check_finite:
            faults += _guard.term_faults(list(terms.values()))
        self.guard.apply_if_clean(faults)

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
            tracker.update_state(batch_mean(labels.top1_correct(y, logits), sample_weight))
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
        return {**super().get_config(), "check_finite": self.check_finite}
