"""Every public object has a complete Google-style docstring, and the API
reference (docs/api/*.md) names every one, so neither can rot (issue 18 §2).

Checked for each name in the ``__all__`` of the public modules:
- a docstring;
- ``Args:`` naming exactly the parameters of the signature (``*args`` and
  ``**kwargs`` included) when it takes any (dataclasses: ``Attributes:``);
- ``Returns:`` (or ``Yields:``) for a function that returns a value;
- ``Example:`` (or ``Examples:``);
- ``Reference:`` for distillers and losses, except the few with no paper;
- the same ``Args:``/``Returns:`` rules for each public method a class adds
  to what it inherits from Keras.
"""

import ast
import dataclasses
import importlib
import inspect
import pathlib
import re
import textwrap

import keras
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODULES = [
    "keras_kd",
    "keras_kd.distillers",
    "keras_kd.losses",
    "keras_kd.export",
    "keras_kd.data",
    "keras_kd.models",
    "keras_kd.features",
    "keras_kd.cache",
    "keras_kd.quantization",
    "keras_kd.pretrained",
    "keras_kd.labels",
    "keras_kd.errors",
]
WITH_REFERENCE = ("keras_kd.distillers", "keras_kd.losses")
# Public distiller parts that implement no paper of their own.
NO_PAPER = {"keras_kd.distillers.Term", "keras_kd.distillers.TaskTerm"}
SECTION = re.compile(r"^(\w[\w ]*):\s*$")
ARGUMENT = re.compile(r"^ {4}(\*{0,2}\w+)(?: \([^)]*\))?:")


def _public_objects():
    found = {}
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        assert hasattr(module, "__all__"), f"{module_name} has no __all__"
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                found.setdefault(f"{module_name}.{name}", obj)
    return found


PUBLIC = _public_objects()


def _sections(doc):
    """``{title: [lines]}`` of a dedented docstring's top-level sections."""
    sections, current = {}, None
    for line in doc.splitlines():
        match = SECTION.match(line)
        if match:
            current = match.group(1)
            sections[current] = []
        elif current is not None:
            if line and not line.startswith(" "):
                current = None  # back to prose
            else:
                sections[current].append(line)
    return sections


def _documented_arguments(lines):
    return [m.group(1) for m in map(ARGUMENT.match, lines) if m]


def _parameters(obj):
    signature = inspect.signature(obj)
    names = []
    for parameter in signature.parameters.values():
        if parameter.name in ("self", "cls"):
            continue
        prefix = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
        names.append(prefix.get(parameter.kind, "") + parameter.name)
    return names


def _returns_a_value(function):
    """Whether the function's own body (not nested functions) returns or yields a value."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    body = tree.body[0]

    def walk(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if isinstance(child, ast.Return) and child.value is not None:
                if not (isinstance(child.value, ast.Constant) and child.value.value is None):
                    return True
            if isinstance(child, ast.Yield | ast.YieldFrom):
                return True
            if walk(child):
                return True
        return False

    return walk(body)


def _own_init(cls):
    """Whether the class (or a keras_kd base) defines ``__init__`` in Python."""
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            return klass.__module__.startswith("keras_kd") or dataclasses.is_dataclass(cls)
    return False


def _problems(path, obj, top_level=True, is_property=False):
    doc = inspect.getdoc(obj)
    if not doc:
        return [f"{path}: no docstring"]
    sections = _sections(doc)
    problems = []
    takes_arguments = not inspect.isclass(obj) or _own_init(obj)
    parameters = _parameters(obj) if takes_arguments else []
    if parameters:
        if inspect.isclass(obj) and dataclasses.is_dataclass(obj):
            documented = _documented_arguments(sections.get("Attributes", []))
        else:
            documented = _documented_arguments(sections.get("Args", []))
        if sorted(documented) != sorted(parameters):
            problems.append(f"{path}: Args document {documented}, the signature has {parameters}")
    if inspect.isfunction(obj) and not is_property and _returns_a_value(obj):
        if "Returns" not in sections and "Yields" not in sections:
            problems.append(f"{path}: no Returns section")
    if top_level and "Example" not in sections and "Examples" not in sections:
        problems.append(f"{path}: no Example section")
    wants_reference = path.rsplit(".", 1)[0] in WITH_REFERENCE and path not in NO_PAPER
    if top_level and wants_reference and "Reference" not in sections:
        problems.append(f"{path}: no Reference section")
    return problems


def _keras_api(cls, name):
    """Whether ``name`` overrides or comes from a Keras base class."""
    return any(
        name in vars(base) for base in cls.__mro__[1:] if base.__module__.split(".")[0] == "keras"
    )


def _overrides_a_documented_hook(cls, name):
    """Whether ``name`` overrides a method of a keras_kd base class (documented
    there, e.g. the step template's hooks on `TermTrainer`)."""
    bases = [b for b in cls.__mro__[1:] if b.__module__.startswith("keras_kd.")]
    return any(name in vars(b) for b in bases if not b.__name__.endswith("Mixin"))


def _own_members(cls):
    """The class's members and those of its keras_kd mixins (e.g. `StagesMixin`)."""
    members = {}
    for base in reversed(cls.__mro__):
        mixin = base.__name__.endswith("Mixin") and base.__module__.startswith("keras_kd")
        if base is cls or mixin:
            members.update(vars(base))
    return members


def _methods(path, cls):
    for name, member in _own_members(cls).items():
        if name.startswith("_") or _keras_api(cls, name):
            continue
        if name not in vars(cls) or _overrides_a_documented_hook(cls, name):
            if not any(name in vars(b) for b in cls.__mro__ if b.__name__.endswith("Mixin")):
                continue
        if isinstance(member, staticmethod | classmethod):
            yield f"{path}.{name}", member.__func__, False
        elif isinstance(member, property):  # described in prose: no Returns section
            yield f"{path}.{name}", member.fget, True
        elif inspect.isfunction(member):
            yield f"{path}.{name}", member, False


def test_the_public_modules_are_documented():
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        assert (module.__doc__ or "").strip(), f"{module_name} has no docstring"
    assert len(PUBLIC) > 90  # the walk found the API


@pytest.mark.parametrize("path", sorted(PUBLIC))
def test_public_object_has_a_complete_docstring(path):
    obj = PUBLIC[path]
    problems = _problems(path, obj)
    if inspect.isclass(obj):
        for method_path, method, is_property in _methods(path, obj):
            problems += _problems(method_path, method, False, is_property)
    assert not problems, "\n".join(problems)


def test_the_api_reference_names_every_public_object():
    directives = set()
    for page in (ROOT / "docs" / "api").glob("*.md"):
        directives |= set(re.findall(r"^::: ([\w.]+)", page.read_text(), re.M))
    paths = {}
    for path, obj in PUBLIC.items():  # keras_kd.KD is keras_kd.distillers.KD
        paths.setdefault(id(obj), {f"{obj.__module__}.{obj.__qualname__}"}).add(path)
    missing = [min(names) for names in paths.values() if not names & directives]
    assert not missing, f"not in docs/api/*.md: {sorted(missing)}"


def test_keras_methods_are_not_checked_but_own_ones_are():
    from keras_kd.distillers import DistillationChain, Distiller

    distiller_methods = [p.rsplit(".", 1)[1] for p, _, _ in _methods("D", Distiller)]
    assert "fit_stages" in distiller_methods and "set_stage" in distiller_methods
    assert "train_step" not in distiller_methods and "fit" not in distiller_methods
    assert "fit" in [p.rsplit(".", 1)[1] for p, _, _ in _methods("C", DistillationChain)]
    assert _keras_api(Distiller, "get_config") and keras.Model
