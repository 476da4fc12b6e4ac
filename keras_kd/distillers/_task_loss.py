"""The task term's loss: the user's `compile(loss=...)`, or the built-in cross-entropy."""

import warnings

import keras

from keras_kd.distillers._outputs import entry

# Keras's cross-entropies whose function form takes probabilities (from_logits=False).
PROBABILITY_LOSSES = (
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "sparse_categorical_crossentropy",
)


class _FunctionLoss(keras.losses.Loss):
    """A loss function ``fn(y_true, y_pred) -> per-sample values`` as a Keras
    `Loss`, so masks, sample weights and the reduction are Keras's."""

    def __init__(self, fn):
        super().__init__(name=getattr(fn, "__name__", "task_loss"))
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)


def _refuse_probabilities(loss, resolved):
    name = getattr(resolved, "__name__", "")
    from_logits = (
        resolved.get_config().get("from_logits", True)
        if isinstance(resolved, keras.losses.Loss)
        else name not in PROBABILITY_LOSSES
    )
    if not from_logits:
        raise ValueError(
            "`loss` must take logits: keras_kd students output logits (the distillation "
            "terms soften them with a temperature), so a cross-entropy needs "
            "`from_logits=True`, e.g. `keras.losses.SparseCategoricalCrossentropy("
            f"from_logits=True)`. Received: loss={loss!r}"
        )


def _single(value, argument, model):
    """The one entry of a list or dict given for a single-output model."""
    if isinstance(value, dict | list | tuple):
        if len(value) != 1:
            raise ValueError(
                f"`{argument}` must be one loss for the student's one output "
                f"({model.outputs[0].name!r}); a student with several outputs names the one "
                f"holding its logits with the distiller's `logits_output`. Received: "
                f"{argument}={value!r}"
            )
        return next(iter(value.values())) if isinstance(value, dict) else value[0]
    return value


def _keras_loss(loss):
    """``loss`` (a name, function or `keras.losses.Loss`) as a Keras `Loss` taking logits."""
    resolved = keras.losses.get(loss)
    _refuse_probabilities(loss, resolved)
    return resolved if isinstance(resolved, keras.losses.Loss) else _FunctionLoss(resolved)


def _weight(value, loss_weights):
    weight = 1.0 if value is None else value
    if not isinstance(weight, int | float) or isinstance(weight, bool) or weight < 0:
        raise ValueError(
            "`loss_weights` must be non-negative numbers (one per output with a loss). "
            f"Received: loss_weights={loss_weights!r}"
        )
    return float(weight)


def _per_output(loss, loss_weights, names):
    """``[(name, Loss, weight)]`` of the outputs that have a loss."""
    if isinstance(loss, list | tuple) and len(loss) != len(names):
        raise ValueError(
            f"`loss` must have one entry per output of the student ({list(names)}), or be a "
            f"dict keyed by their names. Received: loss={loss!r}"
        )
    if loss_weights is not None and not isinstance(loss_weights, dict | list | tuple):
        raise ValueError(
            "`loss_weights` must be a dict keyed by the student's output names or a list in "
            f"output order {list(names)}. Received: loss_weights={loss_weights!r}"
        )
    parts = []
    for name in names:
        part = entry(loss, name, names, "loss")
        if part is not None:
            weight = _weight(entry(loss_weights, name, names, "loss_weights"), loss_weights)
            parts.append((name, _keras_loss(part), weight))
    if not parts:
        raise ValueError(f"`loss` must give at least one output a loss. Received: loss={loss!r}")
    without = [name for name in names if name not in [p[0] for p in parts]]
    if without:
        warnings.warn(
            f"Outputs {without} have no loss: the task term gives their heads no gradient "
            "(a distillation term may still train them). Give them a loss in `compile` if "
            "they should learn from the labels.",
            stacklevel=4,
        )
    return parts


def compiled_task_loss(loss, loss_weights, model, output_names=None):
    """The task term's loss from `compile`'s ``loss`` and ``loss_weights``.

    Args:
        loss: None (the built-in cross-entropy on class labels), a Keras loss
            name, function or `keras.losses.Loss`, or a one-entry list or dict;
            for a model with several outputs, a dict keyed by output name, a
            list in output order (None: no loss for that output) or one loss
            for every output.
        loss_weights: None, a float, or a one-entry list or dict: the
            multiplier of ``loss``; for several outputs, a dict or list.
        model: the deployable model whose output the loss takes.
        output_names: the names of ``model``'s outputs when it has several
            (the distiller's ``logits_output`` is set), else None.

    Returns:
        None when ``loss`` is None, else a `TaskLoss`,
        ``fn(y, predictions, sample_weight)`` -> scalar: the user's loss with
        Keras's masks and reduction, times its weight, summed over the
        outputs (``y``, ``predictions`` and ``sample_weight`` per output as
        Keras takes them).

    Raises:
        ValueError: ``loss_weights`` without ``loss``, several losses for one
            output, a negative weight, a cross-entropy that expects
            probabilities, or no loss for a model with several outputs.
    """
    if loss is None:
        if output_names is not None:
            raise ValueError(
                f"`loss` is required for a student with several outputs ({list(output_names)}):"
                " the built-in cross-entropy covers one logit output. Give each output its "
                'loss, e.g. `compile(loss={"classes": keras.losses.SparseCategorical'
                'Crossentropy(from_logits=True), "boxes": "huber"})`. Received: loss=None'
            )
        if loss_weights is not None:
            raise ValueError(
                "`loss_weights` weighs a compiled `loss`; without one, the task term is the "
                "built-in cross-entropy, weighed by the scheme's `task_weight`. Received: "
                f"loss=None, loss_weights={loss_weights!r}"
            )
        return None
    if output_names is None:
        resolved = _keras_loss(_single(loss, "loss", model))
        weight = loss_weights and _single(loss_weights, "loss_weights", model)
        parts = [(None, resolved, _weight(weight, loss_weights))]
    else:
        parts = _per_output(loss, loss_weights, output_names)

    return TaskLoss(parts, output_names)


class TaskLoss:
    """``fn(y, predictions, sample_weight)`` -> the weighted sum of the
    outputs' losses; ``outputs``: the outputs whose labels it reads (None for
    a model with one output)."""

    def __init__(self, parts, output_names):
        self.parts, self.output_names = parts, output_names
        self.outputs = [name for name, _, _ in parts]

    def __call__(self, y, predictions, sample_weight=None):
        total = 0.0
        for name, loss, weight in self.parts:
            if name is None:
                y_part, pred, w = y, predictions, sample_weight
            else:
                y_part = entry(y, name, self.output_names, "y")
                pred = entry(predictions, name, self.output_names, "predictions")
                w = entry(sample_weight, name, self.output_names, "sample_weight")
            total += weight * keras.ops.cast(loss(y_part, pred, w), "float32")
        return total
