"""Reference numbers computed outside keras_kd, for tests to compare against.

``values.json`` and ``inputs.npz`` are written by ``make_reference_values.py``
(run by hand with torch and the pinned reference code; never by the tests).
Each case has named inputs (NHWC, teacher first), its hyperparameters
(``params``), one or more expected numbers (``value`` and, for schemes, one
number per logged term) and the ``source`` they came from.

Example::

    inputs = reference_inputs("kd_loss")
    got = kd_loss(inputs["teacher_logits"], inputs["student_logits"], **reference_params("kd_loss"))
    # got ~ reference_value("kd_loss")
"""

import functools
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


@functools.cache
def _document():
    return json.loads((HERE / "values.json").read_text())


@functools.cache
def _arrays():
    with np.load(HERE / "inputs.npz") as data:
        return {key: data[key] for key in data.files}


def reference_names():
    """The names of all stored cases."""
    return sorted(_document()["cases"])


def reference_case(name):
    """The stored case: ``inputs`` (npz keys), ``params``, values, ``source``."""
    cases = _document()["cases"]
    if name not in cases:
        raise KeyError(f"No reference case {name!r}. Stored: {sorted(cases)}")
    return cases[name]


def reference_value(name, term="value"):
    """An expected number of case ``name``: its ``value`` or a named term."""
    case = reference_case(name)
    if term not in case:
        raise KeyError(f"Reference case {name!r} has no {term!r}. Keys: {sorted(case)}")
    return case[term]


def reference_params(name):
    """The hyperparameters the case was computed with."""
    return dict(reference_case(name)["params"])


def reference_inputs(name):
    """The case's input arrays by name (copies: NHWC, teacher first)."""
    arrays = _arrays()
    return {key: arrays[npz_key].copy() for key, npz_key in reference_case(name)["inputs"].items()}
