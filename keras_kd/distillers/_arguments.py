"""Constructor arguments recorded once, when a trainer or a term is created.

`RecordedArguments.__new__` binds the call to the class's ``__init__``
signature before ``__init__`` runs and keeps the result in ``arguments``. A
trainer's record also holds the defaults of the constructors above it (a
method's ``__init__`` lists its own arguments and calls
``super().__init__(student, teacher, **kwargs)``; `Distiller` reads every
argument from the record). ``get_config`` is then the record, serialized.
"""

import inspect
from types import MappingProxyType

import keras

_OWN = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _parameters(klass):
    signature = inspect.signature(klass.__init__)
    return [p for p in list(signature.parameters.values())[1:] if p.kind in _OWN]


def declared_arguments(cls, inherit):
    """``{name: default}`` of the arguments ``cls`` declares (and, with
    ``inherit``, those of the recording classes above it); required ones map
    to `inspect.Parameter.empty`."""
    classes = [cls]
    if inherit:
        classes = [
            k
            for k in cls.__mro__
            if "__init__" in vars(k)
            and issubclass(k, RecordedArguments)
            and k is not RecordedArguments
        ]
    declared = {}
    for klass in classes:
        for p in _parameters(klass):
            declared.setdefault(p.name, p.default)
    return declared


def record(cls, args, kwargs, inherit):
    """The call's arguments, defaults filled in; None when they do not bind
    (``__init__`` then raises Python's own TypeError)."""
    try:
        bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
    except TypeError:
        return None
    arguments = {}
    for name, value in list(bound.arguments.items())[1:]:
        kind = bound.signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(value)
        elif kind is not inspect.Parameter.VAR_POSITIONAL:
            arguments[name] = value
    defaults = declared_arguments(cls, inherit)
    for name, default in defaults.items():
        if name not in arguments and default is not inspect.Parameter.empty:
            arguments[name] = default
    return arguments


class RecordedArguments:
    """Records the constructor's arguments in ``self.arguments`` (read-only).

    ``inherit_arguments`` (class attribute): also record the defaults of the
    recording classes above (trainers: True; terms list all their own).
    """

    inherit_arguments = False

    def __new__(cls, *args, **kwargs):
        parent = super().__new__
        instance = parent(cls) if parent is object.__new__ else parent(cls, *args, **kwargs)
        arguments = record(cls, args, kwargs, cls.inherit_arguments)
        object.__setattr__(instance, "_arguments", MappingProxyType(arguments or {}))
        return instance

    @property
    def arguments(self):
        """The constructor's arguments, as given (defaults included)."""
        return self._arguments

    def serialized_arguments(self):
        """`arguments` with Keras objects (models, layers, terms) serialized."""
        return {name: serialize_argument(name, value) for name, value in self.arguments.items()}


def serialize_argument(name, value):
    """The saved form of an argument: Keras objects and terms serialized, lists
    item by item; a Python function is refused (Keras's safe mode would not
    load it)."""
    if isinstance(value, list | tuple):
        return [serialize_argument(name, v) for v in value]
    if callable(value) and not isinstance(value, keras.layers.Layer | RecordedArguments | type):
        raise ValueError(
            f"A distiller whose `{name}` is a Python function cannot be saved (Keras's safe "
            "mode would refuse to load it); pass a Keras layer, or save `distiller.student` "
            f"only. Received: {name}={value!r}"
        )
    if isinstance(value, keras.layers.Layer | RecordedArguments):
        return keras.saving.serialize_keras_object(value)
    return value


def deserialize_arguments(config):
    """`serialize_argument` undone: nested Keras objects are rebuilt."""
    return {name: _deserialize(value) for name, value in config.items()}


def _deserialize(value):
    if isinstance(value, list):
        return [_deserialize(v) for v in value]
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        return keras.saving.deserialize_keras_object(value)
    return value
