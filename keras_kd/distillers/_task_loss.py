"""The task term's loss: the user's `compile(loss=...)`, or the built-in cross-entropy."""

import keras

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
                f"({model.outputs[0].name!r}); keras_kd distills single-output students. "
                f"Received: {argument}={value!r}"
            )
        return next(iter(value.values())) if isinstance(value, dict) else value[0]
    return value


def compiled_task_loss(loss, loss_weights, model):
    """The task term's loss from `compile`'s ``loss`` and ``loss_weights``.

    Args:
        loss: None (the built-in cross-entropy on class labels), a Keras loss
            name, function or `keras.losses.Loss`, or a one-entry list or dict.
        loss_weights: None, a float, or a one-entry list or dict: the
            multiplier of ``loss``.
        model: the deployable model whose output the loss takes.

    Returns:
        None when ``loss`` is None, else ``fn(y, logits, sample_weight)`` ->
        scalar: the user's loss with Keras's masks and reduction, times its
        weight.

    Raises:
        ValueError: ``loss_weights`` without ``loss``, several losses, a
            negative weight, or a cross-entropy that expects probabilities.
    """
    if loss is None:
        if loss_weights is not None:
            raise ValueError(
                "`loss_weights` weighs a compiled `loss`; without one, the task term is the "
                "built-in cross-entropy, weighed by the scheme's `task_weight`. Received: "
                f"loss=None, loss_weights={loss_weights!r}"
            )
        return None
    single = _single(loss, "loss", model)
    resolved = keras.losses.get(single)
    _refuse_probabilities(single, resolved)
    if not isinstance(resolved, keras.losses.Loss):
        resolved = _FunctionLoss(resolved)
    weight = 1.0 if loss_weights is None else _single(loss_weights, "loss_weights", model)
    if not isinstance(weight, int | float) or weight < 0:
        raise ValueError(
            f"`loss_weights` must be a non-negative number. Received: loss_weights={loss_weights!r}"
        )
    weight = float(weight)

    def task_loss(y, logits, sample_weight=None):
        return weight * keras.ops.cast(resolved(y, logits, sample_weight), "float32")

    return task_loss
