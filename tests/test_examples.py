"""Every example runs end to end: in its short mode in the default run (1 epoch
on a few hundred images; the three longest with ``-m slow``), in full with
``-m slow``; and every example has a rendering (``examples/md/<name>.md``,
written by ``tools/render_examples.py``) made from its current source."""

import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = sorted(path.name for path in (ROOT / "examples").glob("*.py"))
RENDERER = ROOT / "tools" / "render_examples.py"
_spec = importlib.util.spec_from_file_location("render_examples", RENDERER)
render_examples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render_examples)
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
    # A full example takes 4 to 10 minutes on 2 idle cores; feature_distillation.py took
    # 296 s alone and over 900 s beside another full example and a background benchmark.
    timeout = 900 if short else 1800
    return subprocess.run(
        command, cwd=folder, env=environment, capture_output=True, text=True, timeout=timeout
    )


# The longest short runs go with the full runs (-m slow) to keep the default run short.
LONG_SHORT_RUNS = (
    "edge_int8_export.py",
    "feature_distillation.py",
    "online_and_self_distillation.py",
)


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in LONG_SHORT_RUNS else n for n in EXAMPLES],
)
def test_example_runs_in_short_mode(name, tmp_path):
    result = _run_example(name, tmp_path, short=True)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_in_full(name, tmp_path):
    result = _run_example(name, tmp_path, short=False)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_has_a_rendering_of_its_current_source(name):
    stem = name.removesuffix(".py")
    rendered = ROOT / "examples" / "md" / f"{stem}.md"
    command = f"nice -n 15 python tools/render_examples.py {stem}"
    assert rendered.is_file(), (
        f"examples/{name} has no rendering: run `{command}` and commit examples/md/{stem}.md"
    )
    recorded = render_examples.recorded_hash(rendered.read_text())
    assert recorded == render_examples.source_hash(ROOT / "examples" / name), (
        f"examples/{name} changed since examples/md/{stem}.md was rendered: re-render it "
        f"with `{command}` (its figures come from that run) and commit both"
    )


_FAKE_EXAMPLE = '''"""
Title: A fake example
Author: tests
Date created: 2026/11/28
Last modified: 2026/11/28
Description: Blocks and their outputs.
Accelerator: None
"""

"""
## First

Prose.
"""

# a comment stays in the code
value = 6 * 7
print("value", value)


def twice(x):
    return 2 * x


"""
## Second
"""

print(twice(value))
quiet = True
'''


def test_the_renderer_writes_each_blocks_output_after_it(tmp_path):
    path = tmp_path / "fake.py"
    path.write_text(_FAKE_EXAMPLE)
    markdown = render_examples.render(path, "python tools/render_examples.py fake")
    assert markdown.startswith("# A fake example\n")
    assert render_examples.recorded_hash(markdown) == render_examples.source_hash(path)
    assert "Rendered by `python tools/render_examples.py fake`" in markdown
    order = [
        "## First",
        "```python\n# a comment stays in the code\nvalue = 6 * 7",
        "```text\nvalue 42\n```",
        "## Second",
        "```python\nprint(twice(value))\nquiet = True\n```",
        "```text\n84\n```",
    ]
    positions = [markdown.index(part) for part in order]
    assert positions == sorted(positions)
    assert markdown.count("```text") == 2  # a block that prints nothing gets no output


def test_a_failing_block_names_the_examples_own_line(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text(_FAKE_EXAMPLE.replace("quiet = True", "quiet = 1 / 0"))
    with pytest.raises(ZeroDivisionError) as failure:
        render_examples.render(path, "test")
    line = _FAKE_EXAMPLE.splitlines().index("quiet = True") + 1
    assert failure.traceback[-1].lineno + 1 == line
