"""Each example runs end to end (1 epoch); slow, so outside the default run."""

import os
import subprocess
import sys

import pytest

EXAMPLES = sorted(
    name
    for name in os.listdir(os.path.join(os.path.dirname(__file__), "..", "examples"))
    if name.endswith(".py")
)


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs(name, tmp_path):
    env = {**os.environ, "KERAS_KD_EXAMPLE_EPOCHS": "1", "KERAS_KD_EXAMPLE_OUT": str(tmp_path)}
    script = os.path.join(os.path.dirname(__file__), "..", "examples", name)
    result = subprocess.run(
        [sys.executable, script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
