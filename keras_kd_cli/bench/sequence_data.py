"""A character-level corpus from the docstrings of Python's own standard library.

The text ships with every Python: the docstrings (`inspect.getdoc`, indentation
cleaned) of a fixed list of pure-Python standard-library modules, their public
classes, functions and methods, in name order. The modules are imported (none
of them has side effects on import) and only objects defined in the module
itself count, so what another module re-exports is not read twice. Platform
modules (``os``, ``posixpath``) are left out: their docstrings differ between
systems. Docstrings can change between Python releases; `corpus_digest`
goes into each benchmark record, so two runs on different corpora show it.

Characters map to `VOCABULARY`: 0 is padding (masked with
``Embedding(mask_zero=True)``), 1 any character outside printable ASCII and
newline, then newline and printable ASCII. The split is by module: the
modules of `HELDOUT_MODULES` give held-out text, the others training text.
Each module's text is cut into windows of ``length`` characters whose labels
are the next characters; a module's last window is padded with zeros (labels
too), and windows never cross modules.
"""

import hashlib
import importlib
import inspect
import string

import numpy as np

TRAIN_MODULES = (
    "argparse",
    "ast",
    "bisect",
    "calendar",
    "configparser",
    "contextlib",
    "copy",
    "csv",
    "dataclasses",
    "difflib",
    "enum",
    "fnmatch",
    "fractions",
    "ftplib",
    "gettext",
    "glob",
    "gzip",
    "heapq",
    "hmac",
    "imaplib",
    "inspect",
    "ipaddress",
    "logging",
    "mailbox",
    "netrc",
    "pathlib",
    "pickle",
    "pprint",
    "queue",
    "quopri",
    "random",
    "sched",
    "shlex",
    "smtplib",
    "statistics",
    "string",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "tokenize",
    "timeit",
    "uuid",
    "wave",
    "zipfile",
)
HELDOUT_MODULES = ("base64", "cmd", "colorsys", "json", "optparse", "selectors", "traceback")
PAD, UNKNOWN = 0, 1
CHARACTERS = "\n" + "".join(chr(c) for c in range(32, 127))
VOCABULARY = {c: i + 2 for i, c in enumerate(CHARACTERS)}
VOCAB_SIZE = len(CHARACTERS) + 2  # 97 characters, padding, unknown: 98 ids
assert set(string.printable) - set("\t\r\x0b\x0c") <= set(CHARACTERS)


def _documented(module):
    """``(qualified name, object)`` of the module's documented parts, in name order."""
    yield module.__name__, module
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        yield f"{module.__name__}.{name}", obj
        if inspect.isclass(obj):
            for member, value in sorted(vars(obj).items()):
                if not member.startswith("_") and inspect.isfunction(value):
                    yield f"{module.__name__}.{name}.{member}", value


def module_text(name):
    """The docstrings of module ``name`` (`_documented`'s order), blank-line separated."""
    module = importlib.import_module(name)
    parts = [inspect.getdoc(obj) for _, obj in _documented(module)]
    return "\n\n".join(part for part in parts if part) + "\n"


def corpus(modules):
    """``{module: text}`` of ``modules``."""
    return {name: module_text(name) for name in modules}


def corpus_digest(texts):
    """The first 16 hex digits of the SHA-256 of ``texts`` (module order kept)."""
    joined = "\0".join(f"{name}\0{text}" for name, text in texts.items())
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def encode(text):
    """Character ids of ``text`` (int32): `VOCABULARY`, else ``UNKNOWN``."""
    return np.array([VOCABULARY.get(c, UNKNOWN) for c in text], "int32")


def windows(texts, length):
    """Next-character windows of each text, never crossing texts.

    Args:
        texts: an iterable of strings (one per module).
        length: T, characters per window.

    Returns:
        ``(x, y)`` int32 arrays of shape (n, T): ``y[i, t]`` is the character
        after ``x[i, t]``; the last window of a text is padded with ``PAD``
        in both, and a text's last character, which has no next one, is
        ``PAD`` in ``x`` too (the mask leaves it out).

    Example:
        ```python
        x, y = windows(["abcd"], 2)  # x: [[a, b], [c, PAD]], y: [[b, c], [d, PAD]]
        ```
    """
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"`length` must be an integer >= 1. Received: length={length!r}")
    xs, ys = [], []
    for text in texts:
        ids = encode(text)
        count = -(-(len(ids) - 1) // length)  # windows holding every (x, next x) pair
        padded = np.zeros(count * length + 1, "int32")
        padded[: len(ids)] = ids
        x, y = padded[:-1].reshape(count, length), padded[1:].reshape(count, length)
        xs.append(np.where(y == PAD, PAD, x))
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def sequence_splits(length=64, train_modules=TRAIN_MODULES, heldout_modules=HELDOUT_MODULES):
    """Training and held-out windows, split by module.

    Args:
        length: characters per window.
        train_modules: the modules of the training text.
        heldout_modules: the modules of the held-out text.

    Returns:
        ``((x_train, y_train), (x_heldout, y_heldout), digest)``: the
        windows (`windows`) and the digest of both corpora (`corpus_digest`).
    """
    overlap = sorted(set(train_modules) & set(heldout_modules))
    if overlap:
        raise ValueError(
            f"Training and held-out modules must differ. Received: modules in both: {overlap}"
        )
    train, heldout = corpus(train_modules), corpus(heldout_modules)
    digest = corpus_digest({**train, **heldout})
    return windows(train.values(), length), windows(heldout.values(), length), digest
