"""The faults a step can find, each declared once: its exception and its message.

A check returns ``(condition, fault, detail)``; the step guard keeps the first
true one and `GuardCallback` raises ``fault.error(fault.message(context))``.
Faults named after a term or an output are made by the trainer at
construction (`term_fault`, `output_fault`), so their names are in the
message before any step runs.
"""

from typing import NamedTuple

import keras

from keras_kd import labels
from keras_kd.errors import (
    LabelError,
    NonFiniteLossError,
    ProbabilityOutputError,
    TeacherCacheMismatchError,
)


class Fault(NamedTuple):
    """One kind of fault: the exception raised and its message.

    ``message(c)`` gets a `Context`: ``trainer``, ``where`` (batch and
    optimizer step), ``untouched`` (what was not changed), ``phase``
    (``"training"`` or ``"validation"``) and ``low`` / ``high`` (the check's
    two numbers).
    """

    error: type
    message: object


class Context(NamedTuple):
    trainer: object
    where: str
    untouched: str
    phase: str
    low: float
    high: float


def _non_finite_data(argument):
    def message(c):
        name = "validation_data" if c.phase == "validation" and c.trainer.guard.in_fit else argument
        return (
            f"`{name}` must hold finite numbers. Received: at {c.where}, a batch with "
            f"{c.low:g} NaN or infinite value(s). {c.untouched} Clean or drop those samples "
            "(e.g. `np.isfinite(x).all(axis=(1, 2, 3))`)."
        )

    return Fault(NonFiniteLossError, message)


def _labels(c):
    shape = c.trainer.logits_shape
    what = labels.accepted(shape[-1], tuple(shape[1:-1]))
    if c.high < c.low:  # low: NaN count, high: -(inf count) - 1 (see labels.label_fault)
        nan, inf = c.low, -c.high - 1.0
        found = " and ".join(
            f"{n:g} {kind} value(s)" for n, kind in ((nan, "NaN"), (inf, "infinite")) if n
        )
        return f"`y` must be {what}. Received: at {c.where}, labels with {found}. {c.untouched}"
    return (
        f"`y` must be {what}. Received: at {c.where}, labels from {c.low:g} to {c.high:g} "
        f"(or rows not summing to 1). {c.untouched}"
    )


def _input_shape(c):
    expected = tuple(c.trainer.deployable.inputs[0].shape[1:])
    return (
        f"`x` must hold inputs of shape (batch, {', '.join(map(str, expected))}) for this "
        f"model. Received: at {c.where}, images of height {c.low:g} and width {c.high:g} (the "
        "dataset's images change size); resize them in the pipeline (e.g. "
        f"`data.load(..., image_size=...)`). {c.untouched}"
    )


def _sample_index(c):
    size = getattr(c.trainer, "num_samples", None)
    accepted = f"[0, {size})" if size is not None else "[0, num_samples)"
    return (
        "`x['sample_index']` must hold each sample's index in the training set, in "
        f"{accepted} (`num_samples` is the number of training samples). Received: at "
        f"{c.where}, indices from {c.low:g} to {c.high:g}. {c.untouched}"
    )


def _cache(c):
    return (
        "The inputs no longer match the teacher cache (`x` differs from the input its "
        "teacher outputs were computed on): the pipeline is not deterministic, e.g. a "
        "random augmentation before or after `cache_teacher_outputs`, or the dataset "
        f"changed. Remove the augmentation or do not cache the teacher. Received: at "
        f"{c.where}, {c.low:.0%} of the batch differs from its cached fingerprint. {c.untouched}"
    )


def _view(c):
    return (
        "`augment` (or the built-in crop, flip and mixup) must return finite values. "
        f"Received: at {c.where}, a training view with {c.low:g} NaN or infinite value(s), "
        f"drawn from finite inputs. {c.untouched} Check the augmentation."
    )


def _non_finite(what):
    return lambda c: (
        f"{c.phase.capitalize()} stopped: {what(c)} is NaN or infinite at {c.where}. "
        f"{c.untouched} Check the inputs and labels for NaN/inf, lower the learning rate or "
        "this term's weight."
    )


def _gradient_name(c):
    variables = c.trainer.trained_variables()
    index = int(c.low)
    return f"the gradient of {variables[index].path if index < len(variables) else index}"


def _negative_weights(c):
    name = "validation_data" if c.phase == "validation" and c.trainer.guard.in_fit else "x"
    return (
        f"`sample_weight` must hold non-negative numbers (0 leaves a sample or position "
        f"out). Received: at {c.where}, {c.low:g} negative weight(s) in `{name}`'s sample "
        f"weights, the smallest {c.high:g}. {c.untouched}"
    )


BAD_INPUTS = _non_finite_data("x")
BAD_SAMPLE_WEIGHTS = _non_finite_data("sample_weight")
BAD_LABELS = Fault(LabelError, _labels)
INPUT_SHAPE = Fault(ValueError, _input_shape)
BAD_SAMPLE_INDEX = Fault(ValueError, _sample_index)
CACHE_MISMATCH = Fault(TeacherCacheMismatchError, _cache)
BAD_VIEW = Fault(NonFiniteLossError, _view)
BAD_GRADIENT = Fault(NonFiniteLossError, _non_finite(_gradient_name))
NEGATIVE_SAMPLE_WEIGHTS = Fault(ValueError, _negative_weights)
STATIC = (
    BAD_INPUTS,
    BAD_SAMPLE_WEIGHTS,
    BAD_LABELS,
    INPUT_SHAPE,
    BAD_SAMPLE_INDEX,
    CACHE_MISMATCH,
    BAD_VIEW,
    BAD_GRADIENT,
    NEGATIVE_SAMPLE_WEIGHTS,
)


def term_fault(name):
    """The fault of loss term ``name`` becoming NaN or infinite."""
    return Fault(NonFiniteLossError, _non_finite(lambda c: f"loss term '{name}' ({name}_loss)"))


def output_fault(source):
    """The fault of model ``source`` outputting probabilities instead of logits."""

    def message(c):
        return (
            f"`{source}` must output logits, but at {c.where} every output "
            "row is non-negative and sums to 1: these are probabilities (a softmax in the "
            "model, however it is written). Temperature scaling and the cross-entropy need "
            "the values before the softmax: remove it from the model and apply it at "
            f"inference. Received: `{source}` outputs whose rows are all non-negative and "
            f"sum to 1. {c.untouched}"
        )

    return Fault(ProbabilityOutputError, message)


class GuardCallback(keras.callbacks.Callback):
    """Raises the exception of the fault a step recorded (that step was not applied)."""

    def __init__(self, trainer):
        super().__init__()
        self.trainer = trainer

    def on_train_begin(self, logs=None):
        self.trainer.guard.reset()
        self.trainer.guard.in_fit = True

    def on_train_end(self, logs=None):
        self.trainer.guard.in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        self.trainer.guard.batch.assign(0)

    def on_test_begin(self, logs=None):
        self.trainer.guard.reset()

    def on_train_batch_end(self, batch, logs=None):
        self._raise_recorded("training")

    def on_test_batch_end(self, batch, logs=None):
        self._raise_recorded("validation")

    def _raise_recorded(self, phase):
        guard = self.trainer.guard
        code = int(guard.code.numpy())
        if code == 0:
            return
        low, high = (float(v) for v in guard.detail.numpy())
        batch = int(guard.fault_batch.numpy())
        guard.reset(batch=False)
        raise fault_error(self.trainer, guard.table[code - 1], low, high, batch, phase) from None


def fault_error(trainer, fault, low, high, batch, phase):
    """The exception for ``fault`` of ``trainer`` (see `GuardCallback`)."""
    step = int(trainer.optimizer.iterations.numpy()) if trainer.optimizer else 0
    untouched = (
        "Nothing was updated with it: weights, BatchNorm statistics and optimizer state "
        "are as before this batch."
        if phase == "training"
        else "Validation stopped."
    )
    where = f"{phase} batch {batch} (optimizer step {step})"
    return fault.error(fault.message(Context(trainer, where, untouched, phase, low, high)))
