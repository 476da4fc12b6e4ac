"""The one training-step template of every keras_kd scheme.

`TermTrainer.train_step` is the only place the step's sequence exists:
read the batch -> training view -> snapshot -> frozen outputs -> forward and
terms under the tape -> checks -> guarded update -> after_update -> report.
A scheme supplies its networks' passes and its terms through the hooks
(`forward`, `compute_terms`, ...): `Distiller` (a frozen teacher, one
student), `DeepMutualLearning`, `ONE` and `BYOT`.
"""

from typing import NamedTuple

import keras
import tensorflow as tf

from keras_kd import labels
from keras_kd._io import atomic_path
from keras_kd.distillers import _faults, _guard
from keras_kd.distillers import _step_checks as checks_of
from keras_kd.distillers._arguments import (
    RecordedArguments,
    declared_arguments,
    deserialize_arguments,
)
from keras_kd.distillers._data_checks import check_fit_data, check_validation_data
from keras_kd.distillers._multi_worker import MultiWorkerFitMixin
from keras_kd.distillers._outputs import check_keys, entry
from keras_kd.distillers._stages import StagesMixin
from keras_kd.distillers._task_loss import compiled_task_loss
from keras_kd.features import logits_tensor, named_outputs
from keras_kd.losses._reduce import batch_mean, position_weights

KERAS_ARGUMENTS = ("name", "dtype", "trainable")
RENAMED = {
    "distill_weight": "feature_weight (a method's own term) or kd_weight (KD's)",
    "deploy_branch": "deploy_index",
    "mode": "GradientAttentionTransfer (a class of its own)",
    "stage": "set_stage('init' | 'main')",
}


class Batch(NamedTuple):
    """A batch as the step reads it: inputs, labels, sample weights, its
    checks, and what the data carried besides (sample indices, a teacher cache)."""

    x: object
    y: object
    sample_weight: object
    checks: list
    extras: dict


def _binary_accuracy_for_logits(metrics, num_outputs):
    """``"accuracy"`` on a single logit means logit > 0, not probability > 0.5."""
    if num_outputs != 1 or not isinstance(metrics, list | tuple):
        return metrics
    return [
        keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)
        if m in ("accuracy", "acc")
        else m
        for m in metrics
    ]


class TermTrainer(StagesMixin, RecordedArguments, MultiWorkerFitMixin, keras.Model):
    """Base of every keras_kd scheme: a `keras.Model` trained on named terms.

    A scheme's constructor validates its arguments and calls `declare_terms`;
    its hooks compute one step: `teacher_outputs` (outside the tape),
    `forward`, `compute_terms` (raw scalars, weighed by `loss_weights`),
    `logit_outputs` (checked to be logits), `metric_logits` (the deployable's,
    for the compiled metrics), `step_checks`, `after_update` and `extra_logs`.
    Every raw term is logged as ``{name}_loss``, the weighted total as ``loss``.
    Constructor arguments are recorded once (``arguments``), and `get_config`
    is that record.

    Args:
        check_finite: skip and report a step whose term or gradient is NaN/inf.
        **kwargs: Keras model arguments (``name``, ``dtype``, ``trainable``).
    """

    inherit_arguments = True
    RENAMED_ARGUMENTS = {}
    logits_output = None  # the deployable's output holding the logits, when it has several

    def __init__(self, check_finite=True, **kwargs):
        self.refuse_unknown(kwargs)
        super().__init__(**kwargs)
        self._compiled_metrics = None
        self.compiled_task_loss = None
        self.check_finite = bool(check_finite)
        self.guard = _guard.StepGuard()
        self.term_names = ()
        self.built = True

    @classmethod
    def renamed_arguments(cls):
        """``{old name: new name}`` of the class's arguments renamed in 0.2."""
        return {**RENAMED, **cls.RENAMED_ARGUMENTS}

    def refuse_unknown(self, kwargs):
        """Raises a TypeError for renamed or unknown keyword arguments."""
        cls, renamed = type(self), self.renamed_arguments()
        old = [k for k in kwargs if k in renamed]
        if old:
            raise TypeError(
                f"{cls.__name__} got arguments renamed in keras_kd 0.2: "
                f"{'; '.join(f'{k} -> {renamed[k]}' for k in old)}. Received: "
                f"{', '.join(f'{k}={kwargs[k]!r}' for k in old)}"
            )
        unknown = [k for k in kwargs if k not in KERAS_ARGUMENTS]
        if unknown:
            accepted = ", ".join([*declared_arguments(cls, inherit=True), *KERAS_ARGUMENTS])
            raise TypeError(
                f"{cls.__name__} got unexpected arguments {unknown}. Accepted: {accepted}. "
                f"Received: {', '.join(f'{k}={kwargs[k]!r}' for k in unknown)}"
            )

    def declare_terms(self, names, outputs):
        """Creates a tracker and a fault per term, and a fault per logit output.

        Args:
            names: the terms' names (logged as ``{name}_loss``).
            outputs: the names of the outputs checked to be logits.
        """
        self.term_names = tuple(names)
        self._trackers = {n: keras.metrics.Mean(name=f"{n}_loss") for n in self.term_names}
        self._total_tracker = keras.metrics.Mean(name="loss")
        self.term_faults = {n: self.guard.declare(_faults.term_fault(n)) for n in self.term_names}
        self.output_faults = [self.guard.declare(_faults.output_fault(o)) for o in outputs]
        if not any(weight > 0 for weight in self.loss_weights.values()):
            given = getattr(self, "arguments", {})
            weights = ", ".join(f"{k}={v!r}" for k, v in given.items() if k.endswith("_weight"))
            if getattr(self, "extra_terms", None):
                weights += f", terms weighted {[t.weight for t in self.extra_terms]}"
            raise ValueError(
                "At least one weight must be > 0: with every term weighted 0 nothing would be "
                f"trained. Received: {weights or self.loss_weights}"
            )

    @property
    def deployable(self):
        """The plain Keras model that is saved and exported."""
        raise TypeError(f"{type(self).__name__} must define `deployable`.")

    @property
    def loss_weights(self):
        """``{term name: weight}`` of the terms of the current stage."""
        return {name: 1.0 for name in self.term_names}

    def trained_models(self):
        """The models this scheme trains (their regularization losses join the total)."""
        return []

    @property
    def output_names(self):
        """The deployable model's output names when it has several (`logits_output`
        set), else None: `compile`'s per-output losses and metrics are keyed by them."""
        if self.logits_output is None:
            return None
        return list(named_outputs(self.deployable))

    @property
    def logits_shape(self):
        """The static shape of the deployable model's logits, batch axis first."""
        return tuple(logits_tensor(self.deployable, self.logits_output, "student").shape)

    def logit_labels(self, y):
        """The labels of the logits: ``y`` itself, or its `logits_output` entry
        when the deployable model has several outputs."""
        if self.logits_output is None:
            return y
        return entry(y, self.logits_output, self.output_names, "y")

    def trained_variables(self):
        """Trainable variables of `trained_models`, each once, in a fixed order."""
        seen, variables = set(), []
        for model in self.trained_models():
            for v in model.trainable_variables:
                if id(v) not in seen:
                    seen.add(id(v))
                    variables.append(v)
        return variables

    def call(self, inputs, training=False):
        return self.deployable(inputs, training=training)

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, **kwargs):
        """`keras.Model.compile`. ``loss`` is the task term's loss on the deployable
        model's logits and labels (the built-in cross-entropy on class labels
        when None); ``loss_weights`` multiplies it; the distillation terms are
        the scheme's own."""
        if self.output_names is not None:
            check_keys(metrics, self.output_names, "metrics")
        self.compiled_task_loss = compiled_task_loss(
            loss, loss_weights, self.deployable, self.output_names
        )
        self._compiled_metrics = metrics
        metrics = _binary_accuracy_for_logits(metrics, self.logits_shape[-1])
        super().compile(
            optimizer=optimizer, loss=loss, loss_weights=loss_weights, metrics=metrics, **kwargs
        )
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
        kwargs["callbacks"] = [_faults.GuardCallback(self), *callbacks]
        return kwargs

    def fit_one_stage(self, *args, **kwargs):
        """`keras.Model.fit` on the current stage, the data checked first and every step guarded.

        Raises:
            ValueError: data the deployable model cannot be trained on, or a
                saving callback for a trainer that cannot be saved (checked
                before any update).
            keras_kd.errors.NonFiniteLossError: a term or gradient became NaN
                or infinite; that step was not applied.
            keras_kd.errors.LabelError: a batch held labels of the wrong kind
                or range; that step was not applied.
        """
        x = args[0] if args else kwargs.get("x")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        check_fit_data(self, x, y, kwargs.get("sample_weight"))
        check_validation_data(self, kwargs.get("validation_data"))
        self.check_fit_data(x)
        if any(_saves_model(c) for c in kwargs.get("callbacks") or []):
            self.get_config()  # refuses what cannot be saved, before the first epoch
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself
        return keras.Model.fit(self, *args, **self._with_guard(kwargs))

    def check_fit_data(self, x):
        """A scheme's own check of the training data, before any update (none here).

        Args:
            x: `fit`'s ``x``.
        """

    def evaluate(self, *args, **kwargs):
        """`keras.Model.evaluate`; NaN or inf outputs stop it with an error."""
        if not isinstance(kwargs.get("callbacks"), keras.callbacks.CallbackList):
            self.guard.in_fit = False  # called by the user, not by fit's validation
        return super().evaluate(*args, **self._with_guard(kwargs))

    def save(self, filepath, *args, **kwargs):
        """`keras.Model.save`, through a temporary file: a failed save leaves an
        existing file as it was."""
        path = str(filepath)
        if not path.endswith(".keras"):
            return super().save(filepath, *args, **kwargs)
        with atomic_path(path, suffix=".keras") as tmp:
            super().save(tmp, *args, **kwargs)
        return None

    # The step template and its hooks.

    def read_batch(self, data, training):
        """The batch as a `Batch`: a single-tensor ``x`` gets the model's static
        input shape (a batch of another size is a fault of the step); NaN/inf
        in ``x`` or the sample weights is one too."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        inputs = self.deployable.inputs
        checks = []
        if keras.ops.is_tensor(x) and len(inputs) == 1:
            x, check = checks_of.checked_input(x, inputs[0].shape[1:])
            checks.append(check)
        if self.check_finite:
            checks += checks_of.data_checks(x, sample_weight)
        return Batch(x, y, sample_weight, checks, {})

    def training_view(self, batch):
        """The batch the networks train on (the batch itself here).

        Args:
            batch: the `Batch` read from the data.

        Returns:
            A `Batch`: inputs, the labels and weights the terms take, checks.
        """
        return batch

    def teacher_outputs(self, view):
        """Outputs of the networks that do not train, computed outside the tape.

        Args:
            view: the training view.

        Returns:
            A dict merged into `forward`'s (empty here).
        """
        return {}

    def forward(self, view, training):
        """The trained networks' pass: a dict for `compute_terms`."""
        raise TypeError(f"{type(self).__name__} must implement `forward(view, training)`.")

    def compute_terms(self, outputs, view):
        """``{term name: raw scalar}`` of the step."""
        raise TypeError(f"{type(self).__name__} must implement `compute_terms(outputs, view)`.")

    def evaluation_terms(self, outputs, batch):
        """``({term name: scalar}, total)`` of a validation batch."""
        raise TypeError(f"{type(self).__name__} must implement `evaluation_terms`.")

    def logit_outputs(self, outputs):
        """The logits in ``outputs``, checked not to be probabilities (same order
        as the ``outputs`` names given to `declare_terms`)."""
        return []

    def metric_logits(self, outputs):
        """The deployable model's logits in ``outputs`` (None: no compiled metrics)."""
        return None

    def step_checks(self, outputs, batch):
        """A scheme's own checks of the step (none here)."""
        return []

    def after_update(self, applied):
        """Commits state of the step; ``applied`` is True when the update was applied."""

    def extra_logs(self, outputs, batch):
        """Logs besides the terms and the compiled metrics (none here)."""
        return {}

    def evaluation_outputs(self, batch):
        """The pass of a validation batch (`forward` in inference mode)."""
        return self.forward(batch, training=False)

    @property
    def checks_class_labels(self):
        """True when the labels must be class labels: the built-in
        cross-entropy is the task term, or a term reads class labels."""
        return self.compiled_task_loss is None or self.reads_class_labels()

    def reads_class_labels(self):
        """True when a term of the scheme reads the labels as classes (none here)."""
        return False

    def label_checks(self, y):
        """The in-graph check of class labels (none when the compiled loss judges them)."""
        if not self.checks_class_labels:
            return []
        return [checks_of.label_check(self.logit_labels(y), self.logits_shape)]

    def output_checks(self, outputs, batch):
        """Labels of the wrong kind, and logit outputs that are probabilities."""
        found = self.label_checks(batch.y)
        for fault, logits in zip(self.output_faults, self.logit_outputs(outputs), strict=True):
            found.append((checks_of.are_probabilities(logits), fault, checks_of.NO_DETAIL))
        return found

    def train_step(self, data):
        batch = self.read_batch(data, training=True)
        view = self.training_view(batch)
        snapshot = self.guard.snapshot(self.trained_models())
        frozen = self.teacher_outputs(view)
        with tf.GradientTape() as tape:
            outputs = {**frozen, **self.forward(view, training=True)}
            terms = self.compute_terms(outputs, view)
            total = self.weighted_total(terms)
        checks = [*view.checks, *self.output_checks(outputs, batch)]
        checks += self.step_checks(outputs, batch)
        self.guarded_update(tape, terms, total, snapshot, checks)
        self.after_update(tf.equal(self.guard.code, _guard.OK))
        return self.report(terms, total, outputs, batch)

    def test_step(self, data):
        batch = self.read_batch(data, training=False)
        outputs = self.evaluation_outputs(batch)
        terms, total = self.evaluation_terms(outputs, batch)
        found = [*batch.checks, *self.label_checks(batch.y)]
        if self.check_finite:
            found += checks_of.term_checks(terms, self.term_faults)
        self.guard.apply_if_clean(found)
        return self.report(terms, total, outputs, batch)

    def task_loss(self, y, logits, sample_weight=None):
        """The compiled loss of the predictions on the labels (``logits``: the
        whole output of a model with several outputs), or the cross-entropy on
        class labels (its mean over the real positions, `batch_mean`)."""
        if self.compiled_task_loss is not None:
            return self.compiled_task_loss(y, logits, sample_weight)
        weight = position_weights(logits, sample_weight)
        return batch_mean(labels.task_loss_per_sample(y, logits), weight)

    def regularization_loss(self):
        """The regularization losses of the trained models."""
        losses = [loss for model in self.trained_models() for loss in model.losses]
        return tf.add_n([tf.cast(loss, tf.float32) for loss in losses]) if losses else 0.0

    def weighted_total(self, terms):
        """``sum(weight * term)`` over the raw terms plus regularization."""
        weights = self.loss_weights
        total = tf.add_n([weights[name] * value for name, value in terms.items()])
        return total + self.regularization_loss()

    def guarded_update(self, tape, terms, total, snapshot, checks):
        """Differentiates ``total`` and applies the update unless a check, a
        term or a gradient is faulty (then ``snapshot`` is restored). The loss
        is scaled for mixed precision and by 1/replicas under a distribution
        strategy (replicas' gradients are summed)."""
        variables = self.trained_variables()
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tape:  # the loss scaling (mixed precision) must be recorded too
            scaled = self.optimizer.scale_loss(total / replicas if replicas > 1 else total)
        grads = tape.gradient(scaled, variables)
        faults = list(checks)
        if self.check_finite:
            faults += checks_of.term_checks(terms, self.term_faults)
            if not isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
                faults.append(checks_of.gradient_check(grads))  # it skips those steps itself
        pairs = [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
        self.guard.apply_if_clean(faults, self.optimizer, pairs, snapshot)

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
        """One top-1 accuracy tracker per named output (peers, branches, exits),
        logged as ``{name}_accuracy`` by `accuracy_logs`."""
        self._accuracy = [keras.metrics.Mean(name=f"{name}_accuracy") for name in names]

    def accuracy_logs(self, y, outputs, sample_weight):
        """Updates the `track_accuracy` trackers with ``outputs`` (logits, in
        order); returns their values."""
        logs = {}
        for tracker, logits in zip(self._accuracy, outputs, strict=True):
            weight = position_weights(logits, sample_weight)
            tracker.update_state(batch_mean(labels.top1_correct(y, logits), weight))
            logs[tracker.name] = tracker.result()
        return logs

    def report(self, terms, total, outputs, batch):
        """Updates the term trackers and the compiled metrics; returns the step's logs."""
        for name, value in terms.items():
            self._trackers[name].update_state(value)
        self._total_tracker.update_state(total)
        logits = self.metric_logits(outputs)
        if logits is None:
            results = {f"{name}_loss": self._trackers[name].result() for name in terms}
        else:
            results = self.compute_metrics(batch.x, batch.y, logits, batch.sample_weight)
            stale = {f"{name}_loss" for name in self._trackers if name not in terms}
            results = {k: v for k, v in results.items() if k not in stale}
        results["loss"] = self._total_tracker.result()
        return {**results, **self.extra_logs(outputs, batch)}

    def get_config(self):
        return {**self.serialized_arguments(), **super().get_config()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        renamed = cls.renamed_arguments()
        old = sorted(k for k in config if k in renamed)
        if old:
            raise ValueError(
                f"This {cls.__name__} was saved by keras_kd 0.1, whose arguments were renamed "
                f"in 0.2 ({'; '.join(f'{k} -> {renamed[k]}' for k in old)}). Rebuild the "
                "distiller with the new names and load its weights, or load the saved "
                f"student alone. Received: a config with {old}"
            )
        return cls(**deserialize_arguments(config))


def _saves_model(callback):
    """True for a callback that saves the whole model (config included)."""
    return isinstance(callback, keras.callbacks.ModelCheckpoint) and not callback.save_weights_only
