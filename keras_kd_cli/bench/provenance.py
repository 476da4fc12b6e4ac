"""Where a benchmark record comes from: commit, date, versions, and the
fingerprint of what it measured (protocol, row definition, data, teacher).

A record is reused only under the same fingerprint: a changed protocol or row
can never resume from rows recorded under the old one.
"""

import dataclasses
import datetime
import hashlib
import json
import os
import platform
import subprocess

import keras
import numpy as np
import tensorflow as tf

FINGERPRINT_VERSION = 2  # keras_kd 0.2: renamed arguments, FT's RepDistiller factor


def _git_commit():
    folder = os.path.dirname(os.path.abspath(__file__))
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+uncommitted changes" if dirty else "")


# Read once, when the benchmark starts: a record names the code that ran, not
# a commit made while a long run was under way.
_COMMIT_AT_START = _git_commit()


def provenance():
    """``{"git_commit", "date", "versions"}`` of the running code."""
    from keras_kd import __version__

    return {
        "git_commit": _COMMIT_AT_START,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "versions": {
            "keras_kd": __version__,
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }


def file_digest(path):
    """The first 16 hex digits of the file's SHA-256, or None if it does not exist."""
    if path is None or not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def fingerprint(protocol, row_definition, source, teacher_path, seed=0):
    """A short hash of everything that decides a row's result (seed 0 is left
    out of the hash, so records made before seeds existed keep theirs)."""
    described = {
        "version": FINGERPRINT_VERSION,
        "protocol": dataclasses.asdict(protocol),
        "row": row_definition,
        "data": source,
        "teacher": file_digest(teacher_path),
    }
    if seed:
        described["seed"] = seed
    text = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
