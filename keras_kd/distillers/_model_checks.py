"""Construction-time checks of the user's models (nothing in them is changed)."""

import keras

from keras_kd.features import logits_tensor

_PASS_THROUGH = (
    keras.layers.Identity,
    keras.layers.Dropout,
    keras.layers.Reshape,
    keras.layers.Flatten,
    keras.layers.Activation,
)
_SQUASHING = ("softmax", "sigmoid", "log_softmax")


def _operation_of(tensor):
    history = getattr(tensor, "_keras_history", None)
    return history.operation if history is not None else None


def _squashing_name(operation):
    """``"softmax"``/``"sigmoid"`` when ``operation`` squashes its input, else None."""
    name = type(operation).__name__.lower()
    if name in _SQUASHING:
        return name
    activation = getattr(operation, "activation", None)
    activation_name = getattr(activation, "__name__", "")
    return activation_name if activation_name in _SQUASHING else None


def _producer(operation):
    nodes = getattr(operation, "_inbound_nodes", ())
    if len(nodes) != 1 or len(nodes[0].input_tensors) != 1:
        return None
    return _operation_of(nodes[0].input_tensors[0])


def output_squashing(output):
    """The softmax/sigmoid that ends the symbolic ``output`` (behind identity-like
    layers), or None."""
    operation = _operation_of(output)
    for _ in range(8):
        if operation is None:
            return None
        squash = _squashing_name(operation)
        if squash:
            return squash, operation.name
        if not isinstance(operation, _PASS_THROUGH):
            return None
        operation = _producer(operation)
    return None


def check_logits_model(model, argument, logits_output=None, takes_logits_output=False):
    """Rejects a model whose output is a softmax or sigmoid: distillation needs logits.

    The graph is followed back through identity-like layers (Identity,
    Dropout, Reshape, Flatten, linear Activation), and softmax written as a
    layer, an activation or `keras.ops.softmax` is recognized. Outputs are
    checked again on every batch (`_step_checks.are_probabilities`). A model with
    several outputs names the one holding the logits with ``logits_output``
    (`features.logits_tensor`); without it, a dict output or several outputs
    are refused first.
    """
    found = output_squashing(logits_tensor(model, logits_output, argument, takes_logits_output))
    if found:
        squash, where = found
        raise ValueError(
            f"`{argument}` must output logits, but its output comes from a {squash} "
            f"({where!r}); temperature scaling and the cross-entropy need the values "
            "before it. Rebuild the model without it (`activation=None` on the last layer; "
            "`classifier_activation=None` for keras.applications) and apply it at "
            f"inference. Received: {argument}={model.name!r}"
        )


def check_distinct(models, arguments):
    """Rejects one model object (or shared weights) in two roles."""
    owners = {}
    for model, argument in zip(models, arguments, strict=True):
        for variable in model.weights:
            other = owners.setdefault(id(variable), argument)
            if other != argument:
                same = "the same model" if _same(models, arguments, other, argument) else None
                what = same or f"models that share the weight {variable.path!r}"
                raise ValueError(
                    f"`{other}` and `{argument}` must be different models, but they are "
                    f"{what}: one role would train or freeze the other's weights. Pass a "
                    "separate model (e.g. `keras.models.clone_model`) to each. Received: "
                    f"{other}={_name(models, arguments, other)!r}, "
                    f"{argument}={_name(models, arguments, argument)!r}"
                )


def _name(models, arguments, argument):
    return models[list(arguments).index(argument)].name


def _same(models, arguments, a, b):
    return models[list(arguments).index(a)] is models[list(arguments).index(b)]


def check_trainable(model, argument):
    """Rejects a model to be trained that has no trainable weights."""
    if not model.trainable_weights:
        raise ValueError(
            f"`{argument}` has no trainable weights (its `trainable` flag is "
            f"{model.trainable}), so distillation could not change it. Set "
            f"`{argument}.trainable = True` or pass another model. Received: "
            f"{argument}={model.name!r}"
        )


def check_per_sample_logits(model, argument, scheme, logits_output=None):
    """Rejects logits with positions (pixels, tokens) for a scheme built on one
    logit vector per sample (ONE's gate, BYOT's exit heads, MLKD's batch and
    class levels)."""
    shape = tuple(logits_tensor(model, logits_output, argument, False).shape)
    if len(shape) > 2:
        raise ValueError(
            f"{scheme} needs `{argument}` to output one logit vector per sample, shape "
            "(batch, classes); logits with positions (pixels, tokens) are not supported by "
            "it: distill them with KD, DKD, DIST, WTTM, CWD, PKD, PairwiseDistillation, GKD or "
            f"DeepMutualLearning. Received: {argument} output shape {shape}"
        )


def check_terms_take_positions(distiller, terms):
    """`check_per_sample_logits` of the student when a weighted term needs one
    logit vector per sample (the message names the distiller and those terms)."""
    named = sorted({type(t).__name__ for t in terms if t.per_sample_logits and t.weight})
    if named:
        scheme = f"{type(distiller).__name__} ({', '.join(named)})"
        check_per_sample_logits(distiller.student, "student", scheme, distiller.logits_output)
