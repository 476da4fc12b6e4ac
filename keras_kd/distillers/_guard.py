"""The step guard: a faulty step changes nothing, and `fit` says why.

Each train step computes one fault code from its checks (labels, outputs
that are probabilities, a stale teacher cache, a NaN or infinite loss term
or gradient). The update is applied only when the code is 0 and no earlier
step of the run failed: otherwise no trainable weight, optimizer slot or
iteration count changes, and the state that the forward pass wrote
(BatchNorm statistics) is put back. `GuardCallback` then raises the typed
exception that the code stands for. The same path runs in graph mode and
under XLA, where in-graph assertions are dropped.
"""

import keras
import tensorflow as tf

from keras_kd import labels
from keras_kd.errors import (
    LabelError,
    NonFiniteLossError,
    ProbabilityOutputError,
    TeacherCacheMismatchError,
)

OK, BAD_LABELS, CACHE_MISMATCH, INPUT_SHAPE, BAD_INPUTS, BAD_SAMPLE_WEIGHTS = 0, 1, 2, 3, 4, 5
BAD_SAMPLE_INDEX = 6
BAD_VIEW = 7
PROBABILITIES_BASE, TERM_BASE, GRADIENT_BASE = 100, 1_000, 1_000_000


def first_fault(candidates):
    """``(code, detail)`` of the first true check of ``[(condition, code,
    detail), ...]`` (detail: two floats for the message), else ``(0, 0)``."""
    code, detail = tf.constant(OK, tf.int32), tf.zeros([2])
    for condition, value, values in reversed(candidates):
        code = tf.where(condition, tf.cast(value, tf.int32), code)
        detail = tf.where(condition, tf.cast(values, tf.float32), detail)
    return code, detail


def are_probabilities(outputs):
    """True when every row is non-negative and sums to 1 (for C > 1 outputs)."""
    if outputs.shape[-1] == 1:
        return tf.constant(False)
    outputs = tf.cast(outputs, tf.float32)
    sums = tf.reduce_sum(outputs, axis=-1)
    return (tf.reduce_min(outputs) >= 0.0) & tf.reduce_all(
        tf.abs(sums - 1.0) <= labels.SUM_TOLERANCE
    )


class StepGuard:
    """Sticky fault code and details of the current run (not saved)."""

    def __init__(self):
        aggregation = tf.VariableAggregation.ONLY_FIRST_REPLICA
        self.code = tf.Variable(OK, dtype=tf.int32, trainable=False, aggregation=aggregation)
        self.detail = tf.Variable(
            tf.zeros([2]), dtype=tf.float32, trainable=False, aggregation=aggregation
        )
        self.names = {}
        self.in_fit = False

    def reset(self):
        self.code.assign(OK)
        self.detail.assign(tf.zeros([2]))

    @staticmethod
    def snapshot(models):
        """The non-trainable state (BatchNorm statistics) of ``models``."""
        variables, seen = [], set()
        for model in models:
            for v in model.non_trainable_variables:
                if id(v) not in seen and "float" in str(v.dtype):
                    seen.add(id(v))
                    variables.append(v)
        return [(v, tf.identity(v.value)) for v in variables]

    def apply_if_clean(self, checks, optimizer=None, grads_and_vars=(), snapshot=()):
        """Applies ``grads_and_vars`` with ``optimizer`` only when no check
        fails on any replica and the run is clean; otherwise restores
        ``snapshot`` and records the first fault.

        Under a distribution strategy that uses `merge_call` (Mirrored,
        MultiWorkerMirrored), the optimizer's update merges across replicas,
        which a `tf.cond` in replica context does not allow; the decision is
        then all-reduced and the `cond` runs in cross-replica context, as
        Keras's `LossScaleOptimizer` does.
        """
        code, detail = first_fault(checks)
        context = tf.distribute.get_replica_context()
        distributed = context is not None and tf.distribute.get_strategy().num_replicas_in_sync > 1
        if distributed:  # every replica takes the fault of any (the largest code)
            codes = context.all_gather(tf.reshape(code, [1]), axis=0)
            details = context.all_gather(tf.reshape(tf.cast(detail, tf.float32), [1, 2]), axis=0)
            index = tf.argmax(codes, output_type=tf.int32)
            code, detail = codes[index], details[index]
        clean = tf.equal(self.code, OK) & tf.equal(code, OK)
        grads = [g for g, _ in grads_and_vars]
        variables = [v for _, v in grads_and_vars]
        if optimizer is not None and grads:
            if distributed and not tf.__internal__.distribute.strategy_supports_no_merge_call():

                def cross_replica(distribution, clean, grads):
                    def apply():
                        distribution.extended.call_for_each_replica(
                            lambda g: optimizer.apply_gradients(zip(g, variables, strict=True)),
                            args=(grads,),
                        )
                        return tf.constant(True)

                    first = distribution.experimental_local_results(clean)[0]
                    tf.cond(first, apply, lambda: tf.constant(False))

                context.merge_call(cross_replica, args=(clean, grads))
            else:

                def apply():
                    optimizer.apply_gradients(zip(grads, variables, strict=True))
                    return tf.constant(True)

                tf.cond(clean, apply, lambda: tf.constant(False))
        for variable, before in snapshot:
            variable.assign(tf.where(clean, variable.value, before))
        first = tf.equal(self.code, OK) & tf.not_equal(code, OK)
        self.detail.assign(tf.where(first, tf.cast(detail, tf.float32), self.detail))
        self.code.assign(tf.where(first, code, self.code))


NO_DETAIL = (0.0, 0.0)


def label_check(y, num_outputs):
    """``(fault, code, (low, high))`` for a batch of labels."""
    fault, low, high = labels.label_fault(y, num_outputs)
    return fault, BAD_LABELS, tf.stack([low, high])


def _non_finite(values):
    floats = [tf.cast(v, tf.float32) for v in tf.nest.flatten(values) if v.dtype.is_floating]
    if not floats:
        return tf.constant(False), NO_DETAIL
    bad = [tf.logical_not(tf.math.is_finite(v)) for v in floats]
    count = tf.add_n([tf.reduce_sum(tf.cast(b, tf.float32)) for b in bad])
    return count > 0, tf.stack([count, 0.0])


def data_checks(x, sample_weight):
    """``[(fault, code, detail)]``: NaN or inf in the inputs or sample weights."""
    x_fault, x_detail = _non_finite(x)
    checks = [(x_fault, BAD_INPUTS, x_detail)]
    if sample_weight is not None:
        w_fault, w_detail = _non_finite(sample_weight)
        checks.append((w_fault, BAD_SAMPLE_WEIGHTS, w_detail))
    return checks


def view_check(view):
    """``(fault, code, detail)``: NaN or inf in a training view drawn from the batch."""
    fault, detail = _non_finite(view)
    return fault, BAD_VIEW, detail


def term_faults(values):
    """``[(fault, code, detail)]``: a NaN or infinite raw loss term."""
    return [
        (tf.logical_not(tf.reduce_all(tf.math.is_finite(v))), TERM_BASE + i, NO_DETAIL)
        for i, v in enumerate(values)
    ]


def gradient_fault(grads):
    """``(fault, code, detail)``: the first variable whose gradient is NaN or infinite."""
    flags = [
        tf.logical_not(tf.reduce_all(tf.math.is_finite(g))) if g is not None else False
        for g in grads
    ]
    flags = tf.stack([tf.convert_to_tensor(f) for f in flags]) if flags else tf.zeros([0], bool)
    index = tf.argmax(tf.cast(flags, tf.int32), output_type=tf.int32)
    return tf.reduce_any(flags), GRADIENT_BASE + index, NO_DETAIL


def checked_input(x, expected):
    """``(x, check)``: a single-tensor batch given the model's static input
    shape, and the fault check of a batch whose images have another size (it
    is then replaced by zeros of the right shape, so the step can run to its
    guard and be skipped)."""
    expected = list(expected)
    static = x.shape[1:]
    if static.is_fully_defined() and None not in expected:
        if list(static) != expected:
            raise ValueError(
                f"`x` must hold inputs of shape (batch, {', '.join(map(str, expected))}) "
                f"for this model. Received: a batch of shape {tuple(x.shape)}; resize the "
                "images in the pipeline (e.g. `data.load(..., image_size=...)`)"
            )
        return x, (tf.constant(False), INPUT_SHAPE, NO_DETAIL)
    actual = tf.shape(x)[1:]
    known = [i for i, e in enumerate(expected) if e is not None]
    ok = tf.reduce_all(tf.equal(tf.gather(actual, known), [expected[i] for i in known]))
    target = [-1, *(e if e is not None else -1 for e in expected)]
    zeros = [tf.shape(x)[0], *(e if e is not None else 1 for e in expected)]
    fixed = tf.cond(ok, lambda: tf.reshape(x, target), lambda: tf.zeros(zeros, dtype=x.dtype))
    size = tf.cast(actual[:2], tf.float32) if len(expected) >= 2 else tf.zeros([2])
    return tf.ensure_shape(fixed, [None, *expected]), (tf.logical_not(ok), INPUT_SHAPE, size)


class GuardCallback(keras.callbacks.Callback):
    """Raises the typed exception for the fault a step recorded (the step
    itself was not applied)."""

    def __init__(self, trainer):
        super().__init__()
        self.trainer = trainer

    def on_train_begin(self, logs=None):
        self.trainer.guard.reset()
        self.trainer.guard.in_fit = True

    def on_train_end(self, logs=None):
        self.trainer.guard.in_fit = False

    def on_test_begin(self, logs=None):
        self.trainer.guard.reset()

    def on_train_batch_end(self, batch, logs=None):
        self._raise_recorded(batch, "training")

    def on_test_batch_end(self, batch, logs=None):
        self._raise_recorded(batch, "validation")

    def _raise_recorded(self, batch, phase):
        guard = self.trainer.guard
        code = int(guard.code.numpy())
        if code == OK:
            return
        low, high = (float(v) for v in guard.detail.numpy())
        guard.reset()
        raise fault_error(self.trainer, code, low, high, batch, phase) from None


def fault_error(trainer, code, low, high, batch, phase):
    """The exception for a fault ``code`` of ``trainer`` (see `GuardCallback`)."""
    step = int(trainer.optimizer.iterations.numpy()) if trainer.optimizer else 0
    where = f"{phase} batch {batch} (optimizer step {step})"
    untouched = (
        "Nothing was updated with it: weights, BatchNorm statistics and optimizer state "
        "are as before this batch."
        if phase == "training"
        else "Validation stopped."
    )
    num_outputs = trainer.deployable.outputs[0].shape[-1]
    if code in (BAD_INPUTS, BAD_SAMPLE_WEIGHTS):
        argument = "x" if code == BAD_INPUTS else "sample_weight"
        if phase == "validation" and trainer.guard.in_fit:
            argument = "validation_data"
        return NonFiniteLossError(
            f"`{argument}` must hold finite numbers. Received: at {where}, a batch with "
            f"{low:g} NaN or infinite value(s). {untouched} Clean or drop those samples "
            "(e.g. `np.isfinite(x).all(axis=(1, 2, 3))`)."
        )
    if code == BAD_VIEW:
        return NonFiniteLossError(
            "`augment` (or the built-in crop, flip and mixup) must return finite values. "
            f"Received: at {where}, a training view with {low:g} NaN or infinite value(s), "
            f"drawn from finite inputs. {untouched} Check the augmentation."
        )
    if code == INPUT_SHAPE:
        expected = tuple(trainer.deployable.inputs[0].shape[1:])
        return ValueError(
            f"`x` must hold inputs of shape (batch, {', '.join(map(str, expected))}) for this "
            f"model. Received: at {where}, images of height {low:g} and width {high:g} (the "
            "dataset's images change size); resize them in the pipeline (e.g. "
            f"`data.load(..., image_size=...)`). {untouched}"
        )
    if code == BAD_SAMPLE_INDEX:
        size = getattr(trainer, "num_samples", None)
        accepted = f"[0, {size})" if size is not None else "[0, num_samples)"
        return ValueError(
            "`x['sample_index']` must hold each sample's index in the training set, in "
            f"{accepted} (`num_samples` is the number of training samples). Received: at "
            f"{where}, indices from {low:g} to {high:g}. {untouched}"
        )
    if code == BAD_LABELS:
        return LabelError(
            f"`y` must be {labels.accepted(num_outputs)}. Received: at {where}, labels from "
            f"{low:g} to {high:g} (or NaN, or rows not summing to 1). {untouched}"
        )
    if PROBABILITIES_BASE <= code < TERM_BASE:
        sources = trainer.guard.names.get("outputs", ())
        index = code - PROBABILITIES_BASE
        source = sources[index] if index < len(sources) else "model"
        return ProbabilityOutputError(
            f"`{source}` must output logits, but at {where} every output "
            "row is non-negative and sums to 1: these are probabilities (a softmax in the "
            "model, however it is written). Temperature scaling and the cross-entropy need "
            "the values before the softmax: remove it from the model and apply it at "
            f"inference. Received: `{source}` outputs whose rows are all non-negative and "
            f"sum to 1. {untouched}"
        )
    if code == CACHE_MISMATCH:
        return TeacherCacheMismatchError(
            "The inputs no longer match the teacher cache (`x` differs from the input its "
            "teacher outputs were computed on): the pipeline is not deterministic, e.g. a "
            "random augmentation before or after `cache_teacher_outputs`, or the dataset "
            f"changed. Remove the augmentation or do not cache the teacher. Received: at "
            f"{where}, {low:.0%} of the batch differs from its cached fingerprint. {untouched}"
        )
    if code >= GRADIENT_BASE:
        variables = trainer.trained_variables()
        index = code - GRADIENT_BASE
        name = variables[index].path if index < len(variables) else f"#{index}"
        what = f"the gradient of {name}"
    else:
        names = list(trainer.guard.names.get(phase, ()))
        index = code - TERM_BASE
        term = names[index] if index < len(names) else f"#{index}"
        what = f"loss term '{term}' ({term}_loss)"
    return NonFiniteLossError(
        f"{phase.capitalize()} stopped: {what} is NaN or infinite at {where}. {untouched} "
        "Check the inputs and labels for NaN/inf, lower the learning rate or this term's "
        "weight."
    )
