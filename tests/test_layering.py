"""One rule (DESIGN.md): nothing under `keras_kd/` imports the applications
built on the library (`keras_kd_cli`: the command line, the demo, the benchmark)."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "keras_kd"
APPLICATIONS = "keras_kd_cli"
LIBRARY = sorted(PACKAGE.rglob("*.py"))


def imported(source):
    """Every module name an ``import`` or ``from ... import`` in ``source`` names."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def applications_imported(source):
    return [n for n in imported(source) if n == APPLICATIONS or n.startswith(APPLICATIONS + ".")]


def test_the_rule_reads_the_whole_library():
    names = {str(p.relative_to(PACKAGE)) for p in LIBRARY}
    assert len(LIBRARY) >= 50
    assert {"distillers/base.py", "distillers/_trainer.py", "export/convert.py"} <= names


def test_the_rule_finds_an_application_import():
    assert applications_imported("from keras_kd_cli.bench import runner\nimport os")
    assert applications_imported("def f():\n    import keras_kd_cli\n")
    assert not applications_imported("from keras_kd import distillers")


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_library_module_imports_the_applications(path):
    bad = applications_imported(path.read_text())
    assert not bad, f"keras_kd/{path.relative_to(PACKAGE)} imports {bad}"
