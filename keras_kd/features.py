"""Feature taps: one multi-output functional submodel per network.

A distiller never edits the user's models. It builds, for each network,
``keras.Model(model.inputs, {"output": model.output, name: layer.output, ...})``
so that one forward pass returns the logits and every tapped feature.
"""

import keras

OUTPUT_KEY = "output"
PREDICTIONS_KEY = "predictions"
_MAX_LISTED = 80


def require_functional(model, argument):
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"`{argument}` must be a keras.Model. Received: {argument}={model!r} "
            f"of type {type(model).__name__}"
        )
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise ValueError(
            f"`{argument}` must be a built functional or Sequential Keras model "
            "(subclassed models have no graph to tap; unbuilt Sequential models "
            "need an Input first). Rebuild it with the functional API, e.g. "
            "`keras.Model(inputs, outputs)`. Received: "
            f"{argument}={model.name!r} of type {type(model).__name__}"
        )


def output_structure(model):
    """The model's output as it was built: one tensor, a list or a dict.

    Args:
        model: a built functional or Sequential Keras model.

    Returns:
        ``model.output`` (a Sequential model built but never called: its
        ``outputs``, or the only one).

    Example:
        ```python
        isinstance(output_structure(detector), dict)  # True for {"classes": ..., "boxes": ...}
        ```
    """
    try:
        return model.output
    except (AttributeError, ValueError):  # a Sequential model built but never called
        return model.outputs[0] if len(model.outputs) == 1 else model.outputs


def _shape(tensor):
    return tuple(tensor.shape)


def named_outputs(model):
    """The model's outputs by name, in its output order.

    Args:
        model: a built functional or Sequential Keras model.

    Returns:
        ``{name: symbolic output}``: a dict output's keys, else each output's
        layer name (the names `compile` takes ``loss`` and ``metrics`` by).

    Example:
        ```python
        list(named_outputs(detector))  # ["classes", "boxes"]
        ```
    """
    structure = output_structure(model)
    if isinstance(structure, dict):
        return dict(structure)
    names = getattr(model, "output_names", None) or [
        t._keras_history.operation.name for t in model.outputs
    ]
    return dict(zip(names, model.outputs, strict=True))


def logits_tensor(model, logits_output=None, argument="model", takes_logits_output=True):
    """The symbolic output that holds ``model``'s logits.

    Args:
        model: a built functional or Sequential Keras model.
        logits_output: for a model with several outputs (a dict or a list),
            the name of the one holding the logits (a dict key, or the output
            layer's name for a list); None for a single-output model.
        argument: the user-facing name of ``model`` in error messages.
        takes_logits_output: whether the caller takes ``logits_output`` (the
            refusal of several outputs then names it, else only the rewrap).

    Returns:
        The symbolic logits tensor.

    Raises:
        ValueError: several outputs and no (or an unknown) ``logits_output``.

    Example:
        ```python
        logits_tensor(detector, "classes").shape  # (None, anchors, classes)
        ```
    """
    if logits_output is None:
        require_single_output(model, argument, takes_logits_output)
        return model.outputs[0]
    outputs = named_outputs(model)
    if len(model.outputs) == 1 and not isinstance(output_structure(model), dict):
        return model.outputs[0]
    if logits_output not in outputs:
        shapes = {name: _shape(t) for name, t in outputs.items()}
        raise ValueError(
            f"`logits_output` must name one of `{argument}`'s outputs, the one that holds "
            f"the logits. Outputs of {model.name!r}: {shapes}. Received: "
            f"logits_output={logits_output!r}"
        )
    return outputs[logits_output]


def require_single_output(model, argument, logits_output_accepted=False):
    """Rejects a model that does not return its logits as one tensor.

    A dict output (even of one entry) reaches the labels, the metrics and
    `predict` as a dict, and a list of several outputs does not say which one
    holds the logits. Both are refused; the message names `logits_output` when
    the caller takes it (``logits_output_accepted``: a `Distiller`), and the
    rewrap to one output otherwise.
    """
    structure = output_structure(model)
    if not isinstance(structure, dict) and len(model.outputs) == 1:
        return
    named = (
        "Name the output that holds them with `logits_output` (e.g. "
        f"logits_output={next(iter(named_outputs(model)))!r}), or "
        if logits_output_accepted
        else ""
    )
    if isinstance(structure, dict):
        entries = {key: _shape(value) for key, value in structure.items()}
        key = next(iter(entries))
        rewrap = "rewrap" if named else "Rewrap"
        raise ValueError(
            f"`{argument}` must return its logits as one tensor, but it returns a dict "
            f"with entries {list(entries)}: the labels, metrics, `evaluate` and `predict` "
            f"need to know which entry holds the logits. {named}{rewrap} the entry that "
            f'holds them, e.g. `keras.Model({argument}.inputs, {argument}.output["{key}"])`. '
            f"Received: {argument}={model.name!r} with outputs {entries}"
        )
    outputs = model.outputs
    if len(outputs) != 1:
        shapes = [_shape(t) for t in outputs]
        rewrap = "rewrap" if named else "Rewrap"
        raise ValueError(
            f"`{argument}` must have exactly one output (the logits); with {len(outputs)} "
            f"outputs, which one is the logits is not known. {named}{rewrap} the one that "
            f"is, e.g. `keras.Model({argument}.inputs, {argument}.outputs[i])` with i in "
            f"[0, {len(outputs) - 1}]. Received: {argument}={model.name!r} with "
            f"{len(outputs)} outputs of shapes {shapes}"
        )


def model_input(model):
    """The model's input structure as it was built: one tensor, a list or a dict.

    Submodels built on it take a batch the way the user's model does (a bare
    tensor for a one-input model, a dict for a dict-input model).
    """
    try:
        return model.input
    except (AttributeError, ValueError):  # e.g. a Sequential model built but never called
        return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def _nested_owner(model, name):
    """Returns the name of a nested model that holds a layer called ``name``."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            try:
                layer.get_layer(name)
            except ValueError:
                continue
            return layer.name
    return None


def _listing(names):
    shown = ", ".join(repr(n) for n in names[:_MAX_LISTED])
    more = len(names) - _MAX_LISTED
    return shown + (f", ... ({more} more)" if more > 0 else "")


def tap_layer(model, name, argument="layer_names"):
    """Returns the symbolic output of ``model``'s layer ``name`` or raises clearly.

    Args:
        model: a built functional Keras model.
        name: the layer's name (see ``model.summary()``).
        argument: the argument name used in the error message.

    Returns:
        The layer's symbolic output tensor, to build a submodel on.

    Raises:
        ValueError: no such layer (the message lists the model's layers), a
            layer inside a nested model, or a layer called more than once.

    Example:
        ```python
        feature = tap_layer(teacher, "stage3")
        keras.Model(teacher.inputs, feature).predict(images)
        ```
    """
    names = [layer.name for layer in model.layers]
    if name not in names:
        owner = _nested_owner(model, name)
        if owner is not None:
            raise ValueError(
                f"`{argument}` names layer {name!r}, which lives inside the nested "
                f"model {owner!r} of {model.name!r} and cannot be tapped from outside. "
                f"Tap {owner!r} itself, or build {model.name!r} without nesting. "
                f"Received: {argument} entry {name!r}"
            )
        raise ValueError(
            f"`{argument}` names a layer that {model.name!r} does not have. "
            f"Layers of {model.name!r}: {_listing(names)}. Received: {argument} "
            f"entry {name!r}"
        )
    layer = model.get_layer(name)
    if isinstance(layer, keras.layers.InputLayer):
        return model.inputs[names.index(name)] if len(model.inputs) > 1 else model.inputs[0]
    # Keras 3 returns the first call's output for a layer called several times
    # (a shared layer), which would tap the wrong tensor silently.
    calls = _calls_in_graph(model, layer)
    if len(calls) != 1:
        raise ValueError(
            f"`{argument}` names layer {name!r} of {model.name!r}, which cannot be "
            f"tapped: it is called {len(calls)} times in the graph (a shared layer has no "
            "single output). Tap a layer that is called once, e.g. one right after "
            f"it. Received: {argument} entry {name!r}"
        )
    return calls[0].output_tensors[0]


def _calls_in_graph(model, layer):
    """The calls (nodes) of ``layer`` that belong to ``model``'s own graph.

    A layer also keeps the calls of graphs it was part of before: a loaded
    Sequential model is built twice, so its layers carry a stale first call.
    """
    nodes = list(getattr(layer, "_inbound_nodes", ()))
    graph = getattr(model, "_functional", None) or model
    keys = getattr(graph, "_nodes", None)
    if keys is None:
        return nodes
    return [node for i, node in enumerate(nodes) if f"{id(layer)}_ib-{i}" in keys]


def build_feature_extractor(
    model, layer_names, name=None, argument="layer_names", logits_output=None, predictions=False
):
    """Builds a dict-output functional model returning logits and named features.

    Args:
        model: a built functional (or Sequential) Keras model.
        layer_names: names of the layers whose outputs to return.
        name: name of the extractor (default ``{model.name}_taps``).
        argument: the user-facing argument name used in error messages.
        logits_output: for a model with several outputs, the name of the one
            holding the logits (see `logits_tensor`); None for one output.
        predictions: also return the model's whole output, in its own
            structure, under ``"predictions"`` (for a model with several
            outputs: what its compiled loss and metrics take).

    Returns:
        A `keras.Model` sharing ``model``'s layers and weights, whose call
        returns ``{"output": logits, name: feature, ...}``.

    Example:
        ```python
        taps = build_feature_extractor(resnet20(), ["stage1", "stage3"])
        out = taps(images)  # out["output"], out["stage1"], out["stage3"]
        ```
    """
    require_functional(model, "model" if argument == "layer_names" else argument)
    if isinstance(layer_names, str) or not all(isinstance(n, str) for n in layer_names):
        raise ValueError(
            f"`{argument}` must be a list of layer names (strings). Received: "
            f"{argument}={layer_names!r}"
        )
    reserved = [key for key in (OUTPUT_KEY, PREDICTIONS_KEY) if key in layer_names]
    if reserved:
        raise ValueError(
            f"`{argument}` must not contain {reserved[0]!r}: the extractor returns the "
            f"model's outputs under {OUTPUT_KEY!r} and {PREDICTIONS_KEY!r}. Received: "
            f"{argument}={layer_names!r}"
        )
    model_argument = "model" if argument == "layer_names" else argument
    outputs = {OUTPUT_KEY: logits_tensor(model, logits_output, model_argument, False)}
    if predictions:
        outputs[PREDICTIONS_KEY] = output_structure(model)
    for layer_name in layer_names:
        outputs[layer_name] = tap_layer(model, layer_name, argument)
    return keras.Model(model_input(model), outputs, name=name or f"{model.name}_taps")


def tappable_layers(model):
    """The layers a distiller can tap, with their output shapes, in graph order.

    A layer is listed when `tap_layer` accepts it: it belongs to ``model``
    itself (not to a nested model) and is called once. Use it with
    ``model.summary()`` to pick ``student_layers`` and ``teacher_layers``:
    compare the shapes of candidate pairs against the rules of each method.

    Args:
        model: a built functional (or Sequential) Keras model.

    Returns:
        A list of ``(name, shape, layer class name)``; ``shape`` is the
        output shape without the batch axis, e.g. ``(16, 16, 32)``.

    Example:
        ```python
        for name, shape, kind in tappable_layers(keras_kd.models.resnet20()):
            print(f"{name:24} {str(shape):16} {kind}")
        # stage1          (32, 32, 16)     ReLU
        # stage1_preact   (32, 32, 16)     Add ...
        ```
    """
    require_functional(model, "model")
    rows = []
    for layer in model.layers:
        if len(getattr(layer, "_inbound_nodes", ())) != 1:
            continue  # a shared layer (or an input of a nested model) has no single output
        output = layer.output
        if isinstance(output, list | tuple | dict):
            continue
        rows.append((layer.name, tuple(output.shape[1:]), type(layer).__name__))
    return rows


__all__ = [
    "OUTPUT_KEY",
    "PREDICTIONS_KEY",
    "build_feature_extractor",
    "logits_tensor",
    "named_outputs",
    "output_structure",
    "tap_layer",
    "tappable_layers",
]
