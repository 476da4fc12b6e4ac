"""Atomic file writes: a failed command never leaves a half-written file."""

import contextlib
import json
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yields a temporary path beside ``path``; renames it over ``path`` on success.

    The temporary name keeps ``suffix`` (e.g. ``.keras``) so that writers that
    check extensions accept it. On an exception the temporary file is removed.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json_atomically(record, path):
    """Writes ``record`` as indented JSON to ``path`` through a temporary file."""
    with atomic_path(path, suffix=".json") as tmp, open(tmp, "w") as f:
        json.dump(record, f, indent=2)


def save_model_atomically(model, path):
    """Saves a Keras model to ``path`` (``.keras``) through a temporary file."""
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
