"""Renders the examples the keras.io way: prose, code, and what each code block printed.

    nice -n 15 python tools/render_examples.py                   # every examples/*.py
    nice -n 15 python tools/render_examples.py teacher_cache     # one (name or path)
    KERAS_KD_EXAMPLE_EPOCHS=2 python tools/render_examples.py X  # reduced: the header says so

Each example runs in its own process, in a temporary folder (its
``KERAS_KD_EXAMPLE_OUT``), one top-level code block after another in one
namespace, like keras.io's autogen. The markdown written to
``examples/md/<name>.md`` holds the example's prose blocks as text, its code
blocks as python fences, and after each code block the standard output that
block printed (Keras's ``verbose=2`` lines included; standard error, where
TensorFlow logs, is not captured). Its header names the command, the machine,
the versions, the date, the settings and the run's wall and CPU time, and
records the SHA-256 of the example's source: ``tests/test_examples.py`` fails
when an example changed after its last rendering.

Only the standard library is imported here; the example imports the rest.
"""

import argparse
import ast
import contextlib
import datetime
import hashlib
import importlib.metadata
import io
import os
import pathlib
import platform
import re
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
RENDERED = EXAMPLES / "md"
HASH_MARKER = "source-sha256"
HEADER_FIELDS = ("Title", "Author", "Date created", "Last modified", "Description", "Accelerator")
SETTINGS = ("KERAS_KD_EXAMPLE_EPOCHS", "KERAS_KD_EXAMPLE_SHORT")


def source_hash(path):
    """SHA-256 of an example's source bytes, as recorded in its rendering."""
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def recorded_hash(markdown):
    """The source hash a rendering records, or None."""
    found = re.search(rf"<!-- {HASH_MARKER}: ([0-9a-f]{{64}}) -->", markdown)
    return found.group(1) if found else None


def rendered_path(example):
    return RENDERED / (pathlib.Path(example).stem + ".md")


def split_blocks(source):
    """The header fields and the ``("markdown" | "code", text, first line)`` blocks.

    A top-level string expression is a markdown block (the first one is the
    header); the lines between two of them, comments included, are a code block.
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    strings = [
        node
        for node in tree.body
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ]
    if not strings or strings[0] is not tree.body[0]:
        raise ValueError("an example starts with its header docstring (Title: ...)")
    header = dict(
        line.split(":", 1) for line in strings[0].value.value.strip().splitlines() if ":" in line
    )
    header = {k.strip(): v.strip() for k, v in header.items()}
    blocks, cursor = [], strings[0].end_lineno  # 1-based line after which code may start
    for node in [*strings[1:], None]:
        end = node.lineno - 1 if node is not None else len(lines)
        segment = lines[cursor:end]
        while segment and not segment[-1].strip():
            segment.pop()
        blank = next((i for i, line in enumerate(segment) if line.strip()), len(segment))
        if blank < len(segment):
            # (kind, text, 1-based number of the text's first line in the file)
            blocks.append(("code", "\n".join(segment[blank:]), cursor + blank + 1))
        if node is not None:
            blocks.append(("markdown", textwrap.dedent(node.value.value).strip(), node.lineno))
            cursor = node.end_lineno
    return header, blocks


class _Tee(io.TextIOBase):
    """Writes to the captured buffer and to the real stdout (to follow progress)."""

    def __init__(self, real):
        self.real, self.buffer = real, io.StringIO()

    def write(self, text):
        self.real.write(text)
        return self.buffer.write(text)

    def flush(self):
        self.real.flush()

    def isatty(self):
        return False


def _cpu_name():
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def run_blocks(path, blocks):
    """Executes the code blocks in one namespace; returns each block's stdout (None: prose)."""
    namespace = {"__name__": "__main__", "__file__": str(path)}
    outputs = []
    for kind, text, first_line in blocks:
        if kind != "code":
            outputs.append(None)
            continue
        # Padded so that a traceback names the example's own line numbers.
        code = compile("\n" * (first_line - 1) + text, str(path), "exec")
        tee = _Tee(sys.stdout)
        with contextlib.redirect_stdout(tee):
            exec(code, namespace)
        outputs.append(tee.buffer.getvalue())
    return outputs


def render(path, command):
    """Runs ``path`` block by block and returns its markdown."""
    source = pathlib.Path(path).read_text()
    header, blocks = split_blocks(source)
    load_before = os.getloadavg()
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    outputs = run_blocks(path, blocks)
    wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    load_after = os.getloadavg()
    settings = [f"{k}={os.environ[k]}" for k in SETTINGS if os.environ.get(k)]
    settings = (
        "reduced settings: " + ", ".join(settings)
        if settings
        else "the example's full default settings"
    )
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# {header.get('Title', pathlib.Path(path).stem)}",
        "",
        f"**Author:** {header.get('Author', '')}<br>",
        f"**Date created:** {header.get('Date created', '')}<br>",
        f"**Last modified:** {header.get('Last modified', '')}<br>",
        f"**Description:** {header.get('Description', '')}",
        "",
        f"Source: `examples/{pathlib.Path(path).name}`. Rendered by `{command}` with "
        f"{settings}, on {date}: {platform.machine()} {_cpu_name()}, {os.cpu_count()} cores "
        f"(niceness {os.nice(0)}, load average "
        f"{load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end), Python "
        f"{platform.python_version()}, TensorFlow {_version('tensorflow')}, Keras "
        f"{_version('keras')}. The run took {_minutes(wall)} wall and {_minutes(cpu)} "
        "of CPU time. Every figure below is this run's output (standard output only, "
        "after the block that printed it).",
        "",
        f"<!-- {HASH_MARKER}: {hashlib.sha256(source.encode()).hexdigest()} -->",
        f"<!-- wall_seconds: {wall:.1f} cpu_seconds: {cpu:.1f} -->",
        "",
    ]
    for (kind, text, _), output in zip(blocks, outputs, strict=True):
        if kind == "markdown":
            lines += [text, ""]
            continue
        lines += ["```python", text, "```", ""]
        if output and output.strip():
            lines += ["```text", output.rstrip("\n"), "```", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _minutes(seconds):
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def _resolve(name):
    path = pathlib.Path(name)
    if path.suffix != ".py":
        path = EXAMPLES / (name + ".py")
    if not path.is_file():
        path = EXAMPLES / path.name
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted(EXAMPLES.glob("*.py")))
        raise SystemExit(f"no example {name!r}; examples: {known}")
    return path.resolve()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="example names or paths (default: all)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child process's job
    parser.add_argument("--command", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        path = pathlib.Path(args.one)
        try:
            markdown = render(path, args.command)
        except Exception:
            traceback.print_exc()
            return 1
        target = rendered_path(path)
        target.parent.mkdir(exist_ok=True)
        target.write_text(markdown)
        return 0
    paths = [_resolve(n) for n in args.names] or sorted(EXAMPLES.glob("*.py"))
    failed = []
    for path in paths:
        command = f"python tools/render_examples.py {path.stem}"
        with tempfile.TemporaryDirectory(prefix=f"render-{path.stem}-") as folder:
            environment = {
                **os.environ,
                "KERAS_KD_EXAMPLE_OUT": folder,
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
                ),
            }
            start = time.perf_counter()
            code = subprocess.call(
                [sys.executable, __file__, "--one", str(path), "--command", command],
                cwd=folder,
                env=environment,
            )
        seconds = time.perf_counter() - start
        print(f"{path.stem}: {'ok' if code == 0 else 'FAILED'} in {_minutes(seconds)}", flush=True)
        if code:
            failed.append(path.stem)
    if failed:
        print(f"failed: {', '.join(failed)} (their renderings were not changed)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
