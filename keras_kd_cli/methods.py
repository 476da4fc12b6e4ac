"""The methods `keras-kd distill` trains with, and the ``--arg`` each accepts.

Names and types only, without importing `keras_kd` (and TensorFlow): a wrong
method argument is refused before anything starts. ``tests/cli/test_cli.py``
keeps these tables equal to the distillers' constructor signatures.
"""

# --method -> (keras_kd.distillers class, its arguments a user sets with --arg).
# `logit_standardization` is accepted by every class (it applies to the KD term).
_LOGITS = ("task_weight", "kd_weight", "temperature", "logit_standardization")
_TAPS = ("student_layers", "teacher_layers", "feature_weight")
METHODS = {
    "kd": ("KD", _LOGITS),
    "fitnet": ("FitNet", (*_TAPS, "regressor", "regressor_kernel_size", "init_epochs", *_LOGITS)),
    "at": ("AttentionTransfer", (*_TAPS, "p", *_LOGITS)),
    "gradient_at": ("GradientAttentionTransfer", ("feature_weight", "normalize", *_LOGITS)),
    "nst": ("NST", (*_TAPS, *_LOGITS)),
    "ft": ("FactorTransfer", (*_TAPS, "rate", "p", "form", "init_epochs", *_LOGITS)),
    "ab": ("ActivationBoundary", (*_TAPS, "margin", "layer_weights", "init_epochs", *_LOGITS)),
    "fsp": ("FSP", (*_TAPS, "init_epochs", *_LOGITS)),
    "rkd": ("RKD", (*_TAPS, "distance_weight", "angle_weight", *_LOGITS)),
    "dkd": ("DKD", ("alpha", "beta", "warmup_epochs", "feature_weight", *_LOGITS)),
    "dist": ("DIST", ("inter_weight", "intra_weight", "feature_weight", *_LOGITS)),
    "crd": (
        "CRD",
        (*_TAPS, "num_negatives", "feat_dim", "nce_temperature", "memory_momentum", *_LOGITS),
    ),
    "function_matching": ("FunctionMatching", ("mixup_alpha", "crop_padding", "flip", *_LOGITS)),
}
# Constructor arguments the command sets itself: CRD's memory has one row per
# training image (the command counts them and indexes the data), and function
# matching's `augment` is a Keras layer, which no command-line value can be.
SET_BY_COMMAND = {"crd": ("num_samples",), "function_matching": ("augment",)}
# Methods whose init stage runs by default; its epochs default to max(1, EPOCHS // 8)
# (the distillers' default, RepDistiller's 30, is for 240-epoch runs).
INIT_STAGE_METHODS = ("ft", "ab", "fsp")

_NUMBER, _INTEGER, _BOOLEAN, _NAMES, _NUMBERS, _TEXT = (
    "a number",
    "an integer",
    "true or false",
    "layer names separated by commas",
    "numbers separated by commas",
    "a word",
)
ARGUMENT_TYPES = {
    **dict.fromkeys(
        (
            "task_weight",
            "kd_weight",
            "temperature",
            "feature_weight",
            "p",
            "rate",
            "margin",
            "distance_weight",
            "angle_weight",
            "alpha",
            "beta",
            "inter_weight",
            "intra_weight",
            "nce_temperature",
            "memory_momentum",
            "mixup_alpha",
        ),
        _NUMBER,
    ),
    **dict.fromkeys(
        (
            "init_epochs",
            "warmup_epochs",
            "regressor_kernel_size",
            "num_negatives",
            "feat_dim",
            "crop_padding",
        ),
        _INTEGER,
    ),
    **dict.fromkeys(("logit_standardization", "normalize", "flip"), _BOOLEAN),
    "student_layers": _NAMES,
    "teacher_layers": _NAMES,
    "layer_weights": _NUMBERS,
    "regressor": _TEXT,
    "form": _TEXT,
}
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


def _parse_value(kind, text):
    """``text`` as ``kind``; raises ValueError when it is not one."""
    if kind == _NUMBER:
        return float(text)
    if kind == _INTEGER:
        return int(text)
    if kind == _BOOLEAN:
        if text.lower() not in _TRUE + _FALSE:
            raise ValueError(text)
        return text.lower() in _TRUE
    if kind in (_NAMES, _NUMBERS):
        items = [item.strip() for item in text.split(",")]
        if not all(items):
            raise ValueError(text)
        return [float(item) for item in items] if kind == _NUMBERS else items
    if not text:
        raise ValueError(text)
    return text


def method_arguments(method, pairs, epochs):
    """Parses ``--arg NAME=VALUE`` options into a method's keyword arguments.

    Args:
        method: a `METHODS` name.
        pairs: the ``--arg`` strings, in order.
        epochs: ``--epochs``, from which a default ``init_epochs`` follows.

    Returns:
        ``{name: value}``, values typed (numbers, integers, booleans, lists).
        A tapping method given only one of ``student_layers`` and
        ``teacher_layers`` gets the same names for the other.

    Raises:
        ValueError: a pair that is not ``NAME=VALUE``, an argument the method
            does not accept (the error lists those it does), a name given
            twice, a value of the wrong type, or missing layers.
    """
    class_name, accepted = METHODS[method]
    arguments = {}
    for pair in pairs:
        name, equals, text = pair.partition("=")
        name = name.strip()
        if not equals or not name:
            raise ValueError(
                f"--arg takes NAME=VALUE, e.g. --arg feature_weight=100. Received: --arg {pair}"
            )
        if name not in accepted:
            raise ValueError(
                f"--method {method} (keras_kd.distillers.{class_name}) has no argument "
                f"{name!r}. Accepted: {', '.join(accepted)}. Received: --arg {pair}"
            )
        if name in arguments:
            raise ValueError(f"--arg {name} is given twice. Received: --arg {pair}")
        kind = ARGUMENT_TYPES[name]
        try:
            arguments[name] = _parse_value(kind, text.strip())
        except ValueError:
            raise ValueError(f"--arg {name} takes {kind}. Received: --arg {pair}") from None
    if "student_layers" in accepted:
        layers = arguments.get("student_layers", arguments.get("teacher_layers"))
        if layers is None:
            raise ValueError(
                f"--method {method} taps layers: give them with --arg "
                "student_layers=NAME[,NAME...] (teacher_layers defaults to the same names), "
                "e.g. --arg student_layers=stage2. "
                "Received: no student_layers"
            )
        arguments.setdefault("student_layers", layers)
        arguments.setdefault("teacher_layers", layers)
    if method in INIT_STAGE_METHODS:
        arguments.setdefault("init_epochs", max(1, epochs // 8))
    return arguments
