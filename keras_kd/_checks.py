"""Eager argument validation with messages ending ``Received: name=value``."""

import numbers

import numpy as np

FLOAT32_MAX = 3.4028234663852886e38  # a weight multiplies float32 losses


def non_negative_float(name, value):
    """Returns ``value`` as a float, or raises if it is not a float in [0, float32 max]."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not value >= 0
        or value > FLOAT32_MAX
    ):
        raise ValueError(
            f"`{name}` must be a finite float >= 0 (loss weights are free non-negative "
            "floats, not limited to [0, 1], and finite in float32, at most 3.4e38). "
            f"Received: {name}={value!r}"
        )
    return float(value)


def positive_float(name, value):
    """Returns ``value`` as a float, or raises if it is not a finite float > 0."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not value > 0
        or value == float("inf")
    ):
        raise ValueError(f"`{name}` must be a finite float > 0. Received: {name}={value!r}")
    return float(value)


def positive_int(name, value, minimum=1):
    """Returns ``value`` if it is an int >= ``minimum``, else raises."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


def one_of(name, value, allowed):
    """Returns ``value`` if it is in ``allowed``, else raises."""
    if value not in allowed:
        raise ValueError(f"`{name}` must be one of {tuple(allowed)}. Received: {name}={value!r}")
    return value


def layer_name_list(name, value):
    """Returns ``value`` as a list of layer-name strings, else raises."""
    if value is None:
        return []
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ValueError(
            f"`{name}` must be a list of layer names (strings). Received: {name}={value!r}"
        )
    return list(value)


MAX_TEMPERATURE = 1000.0


def temperature_value(name, value):
    """Returns a softmax temperature in (0, MAX_TEMPERATURE], else raises.

    Beyond it both softened distributions are uniform to float32 precision and
    ``T^2`` scales the vanishing difference up to overflow.
    """
    value = positive_float(name, value)
    if value > MAX_TEMPERATURE:
        raise ValueError(
            f"`{name}` must be in (0, {MAX_TEMPERATURE:g}] (published settings use 1 to 20; "
            "larger temperatures make the soft targets uniform in float32 and T^2 overflows). "
            f"Received: {name}={value!r}"
        )
    return value


def index_in(name, value, size):
    """Returns ``value`` if it is an int index into ``size`` members, else raises."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < size:
        raise ValueError(
            f"`{name}` must be an integer in [0, {size - 1}]. Received: {name}={value!r}"
        )
    return int(value)


def non_negative_int(name, value):
    """Returns ``value`` if it is an int >= 0, else raises."""
    return positive_int(name, value, minimum=0)


def bool_value(name, value):
    """Returns ``value`` as a bool if it is True or False, else raises."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"`{name}` must be True or False. Received: {name}={value!r}")
    return bool(value)
