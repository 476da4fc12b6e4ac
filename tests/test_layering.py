"""The library core never imports the applications built on it (DESIGN.md)."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "keras_kd"
APPLICATIONS = (
    "keras_kd.cli",
    "keras_kd.demo",
    "keras_kd.bench",
    "keras_kd.distill",
    "keras_kd.export_command",
    "keras_kd_cli",
)


def _module(path):
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def _is_application(name):
    return any(name == app or name.startswith(app + ".") for app in APPLICATIONS)


CORE = [path for path in sorted(PACKAGE.rglob("*.py")) if not _is_application(_module(path))]


def _imported(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_the_core_is_found():
    names = {p.name for p in CORE}
    assert {"base.py", "kd.py", "features.py", "labels.py"} <= names
    assert "cli.py" not in names and "demo.py" not in names


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_module_imports_no_application(path):
    bad = [name for name in _imported(path) if _is_application(name)]
    assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"
