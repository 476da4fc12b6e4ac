"""Every example runs end to end: in its short mode in the default run (1 epoch
on a few hundred images), in full with ``-m slow``."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = sorted(path.name for path in (ROOT / "examples").glob("*.py"))
# Short runs take a few steps per model: tracing each train step into a graph
# would cost more than it saves (about half their CPU time), so they run eagerly.
# The distillers' graph and XLA modes have their own tests.
_EAGER = (
    "import runpy, sys, tensorflow as tf; tf.config.run_functions_eagerly(True); "
    "runpy.run_path(sys.argv[1], run_name='__main__')"
)


def _run_example(name, folder, short):
    environment = {
        **os.environ,
        # The checkout's keras_kd, whatever an installed copy points at.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "KERAS_KD_EXAMPLE_OUT": str(folder),
        "KERAS_KD_EXAMPLE_SHORT": "1" if short else "",
    }
    script = str(ROOT / "examples" / name)
    command = [sys.executable, "-c", _EAGER, script] if short else [sys.executable, script]
    return subprocess.run(
        command, cwd=folder, env=environment, capture_output=True, text=True, timeout=900
    )


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_in_short_mode(name, tmp_path):
    result = _run_example(name, tmp_path, short=True)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_in_full(name, tmp_path):
    result = _run_example(name, tmp_path, short=False)
    assert result.returncode == 0, result.stderr[-3000:]
