"""The methods `keras-kd distill` trains with, and the ``--arg`` each accepts.

The arguments a method accepts, their order and their types are derived from
the ``__init__`` signature of its `keras_kd.distillers` class: its own
arguments (those the command sets itself left out) and, through its
``**kwargs``, the `Distiller` arguments in `FROM_DISTILLER`. A default's
type is the argument's type (``4.0``: a number, ``1``: an integer, ``False``:
true or false, ``"conv"``: a word); `UNTYPED_DEFAULTS` gives the type of
those whose default (None, or none) does not say it.

The signatures are read from the library's source with `ast`, without
importing `keras_kd` (and TensorFlow): a wrong method argument is refused at
once, before anything starts. ``tests/cli/test_distill.py`` checks the
derivation against `inspect.signature` of each class.
"""

import ast
import functools
import importlib.util
import os
import typing

# --method -> the keras_kd.distillers class it trains with.
METHODS = {
    "kd": "KD",
    "fitnet": "FitNet",
    "at": "AttentionTransfer",
    "gradient_at": "GradientAttentionTransfer",
    "nst": "NST",
    "ft": "FactorTransfer",
    "ab": "ActivationBoundary",
    "fsp": "FSP",
    "rkd": "RKD",
    "dkd": "DKD",
    "dist": "DIST",
    "crd": "CRD",
    "function_matching": "FunctionMatching",
    "wttm": "WTTM",
    "mlkd": "MLKD",
    "cwd": "CWD",
    "pkd": "PKD",
    "pairwise": "PairwiseDistillation",
    "gkd": "GKD",
}
# `Distiller` arguments every method takes through its **kwargs and a user
# may set with --arg (they apply to the KD term).
FROM_DISTILLER = ("logit_standardization",)
# Constructor arguments the command sets itself: CRD's memory has one row per
# training image (the command counts them and indexes the data), and function
# matching's `augment` and MLKD's `strong_augment` are Keras layers, which no
# command-line value can be (their defaults apply).
SET_BY_COMMAND = {
    "crd": ("num_samples",),
    "function_matching": ("augment",),
    "mlkd": ("strong_augment",),
}
# Methods whose init stage runs by default; its epochs default to max(1, EPOCHS // 8)
# (the distillers' default, RepDistiller's 30, is for 240-epoch runs).
INIT_STAGE_METHODS = ("ft", "ab", "fsp")
# Listed last, in this order, after the method's own arguments.
_LOGITS = ("task_weight", "kd_weight", "temperature", "logit_standardization")
_NOT_ARGUMENTS = ("self", "student", "teacher")

_NUMBER, _INTEGER, _BOOLEAN, _NAMES, _NUMBERS, _TEXT = (
    "a number",
    "an integer",
    "true or false",
    "layer names separated by commas",
    "numbers separated by commas",
    "a word",
)
_KINDS_OF_DEFAULTS = {bool: _BOOLEAN, int: _INTEGER, float: _NUMBER, str: _TEXT}
# Arguments whose default (None, a tuple, or none) does not say their type.
UNTYPED_DEFAULTS = {
    "student_layers": _NAMES,
    "teacher_layers": _NAMES,
    "layer_weights": _NUMBERS,
    "scale_reference": f"{_NUMBERS}, or none",
    "crop_padding": _INTEGER,
    "flip": _BOOLEAN,
}
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")
NO_DEFAULT = "<no default>"


class Argument(typing.NamedTuple):
    """One constructor argument as the command sees it."""

    name: str
    kind: str  # its type, as the errors say it: "a number", "an integer", ...
    default: object  # NO_DEFAULT when the signature gives none


def _library_folder():
    """The folder of the `keras_kd` package, found without importing it."""
    spec = importlib.util.find_spec("keras_kd")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("keras-kd distill: the keras_kd package is not installed")
    return list(spec.submodule_search_locations)[0]


def _parse(path):
    with open(path, encoding="utf-8") as f:
        return ast.parse(f.read(), filename=path)


def _class_files(library):
    """``{class name: source file}`` of what `keras_kd.distillers` exports."""
    files = {}
    for node in _parse(os.path.join(library, "distillers", "__init__.py")).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras_kd."):
            parts = node.module.split(".")[1:]
            path = os.path.join(library, *parts) + ".py"
            files.update((alias.asname or alias.name, path) for alias in node.names)
    return files


def _constants(tree):
    """The module's ``NAME = literal`` assignments, for defaults that name one."""
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    constants[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    return constants


def _signature(path, class_name):
    """``[(name, default)]`` of the class's ``__init__`` (without ``self`` and
    ``**kwargs``; `NO_DEFAULT` where it has none) and whether it takes ``**kwargs``."""
    tree = _parse(path)
    constants = _constants(tree)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            break
    else:
        raise RuntimeError(f"keras_kd.distillers.{class_name} is not defined in {path}")
    init = next(
        (f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None
    )
    if init is None:
        raise RuntimeError(f"keras_kd.distillers.{class_name} defines no __init__ ({path})")
    arguments = [*init.args.posonlyargs, *init.args.args]
    defaults = [NO_DEFAULT] * (len(arguments) - len(init.args.defaults))
    defaults += list(init.args.defaults)
    arguments += init.args.kwonlyargs
    defaults += [NO_DEFAULT if d is None else d for d in init.args.kw_defaults]
    parameters = []
    for argument, default in zip(arguments, defaults, strict=True):
        if default is not NO_DEFAULT:
            if isinstance(default, ast.Name) and default.id in constants:
                default = constants[default.id]
            else:
                default = ast.literal_eval(default)
        parameters.append((argument.arg, default))
    return parameters, init.args.kwarg is not None


def _kind(class_name, name, default):
    kind = UNTYPED_DEFAULTS.get(name)
    if kind is None:
        kind = _KINDS_OF_DEFAULTS.get(type(default))
    if kind is None:
        raise RuntimeError(
            f"keras-kd distill cannot tell the type of keras_kd.distillers.{class_name}'s "
            f"argument {name!r} from its default {default!r}: add it to "
            "keras_kd_cli.methods.UNTYPED_DEFAULTS"
        )
    return kind


@functools.cache
def method_table(library=None):
    """``{method: {argument name: Argument}}`` derived from the distillers' signatures.

    Args:
        library: the `keras_kd` package folder whose source is read; default:
            the installed one (found without importing it).

    Returns:
        For each `METHODS` name, the arguments ``--arg`` accepts, the
        method's own first (in signature order), then `_LOGITS`.
    """
    library = library or _library_folder()
    files = _class_files(library)
    base, _ = _signature(files["Distiller"], "Distiller")
    shared = {name: default for name, default in base if name in FROM_DISTILLER}
    table = {}
    for method, class_name in METHODS.items():
        parameters, takes_kwargs = _signature(files[class_name], class_name)
        skipped = (*_NOT_ARGUMENTS, *SET_BY_COMMAND.get(method, ()))
        own = {name: default for name, default in parameters if name not in skipped}
        if takes_kwargs:
            own.update((k, v) for k, v in shared.items() if k not in own)
        names = [n for n in own if n not in _LOGITS] + [n for n in _LOGITS if n in own]
        table[method] = {n: Argument(n, _kind(class_name, n, own[n]), own[n]) for n in names}
    return table


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
    if kind.endswith(", or none"):
        return None if text.lower() == "none" else _parse_value(kind[: -len(", or none")], text)
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
    class_name, accepted = METHODS[method], method_table()[method]
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
        kind = accepted[name].kind
        try:
            arguments[name] = _parse_value(kind, text.strip())
        except ValueError:
            raise ValueError(f"--arg {name} takes {kind}. Received: --arg {pair}") from None
    if "student_layers" in accepted:
        layers = arguments.get("student_layers", arguments.get("teacher_layers"))
        optional = accepted["student_layers"].default is None  # e.g. CWD: the logits
        if layers is None and not optional:
            raise ValueError(
                f"--method {method} taps layers: give them with --arg "
                "student_layers=NAME[,NAME...] (teacher_layers defaults to the same names), "
                "e.g. --arg student_layers=stage2. "
                "Received: no student_layers"
            )
        if layers is not None:
            arguments.setdefault("student_layers", layers)
            arguments.setdefault("teacher_layers", layers)
    if method in INIT_STAGE_METHODS:
        arguments.setdefault("init_epochs", max(1, epochs // 8))
    return arguments
