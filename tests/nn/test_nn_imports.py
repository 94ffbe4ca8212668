"""nn stands on the engine's public API only, and nn/reference.py on no engine code at all.

Every nn/*.py is parsed (never imported) with ast:
- the engine comes in only as the whole package, ``import autograd_core as ag``: no
  ``autograd_core.<submodule>``, no ``from autograd_core import <private or submodule>``, and no
  ``ag._private`` or ``ag.<internal submodule>`` attribute through the alias;
- nn/reference.py (the oracle) imports only NumPy and the standard library.
"""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path

import pytest

import autograd_core as ag

NN_DIR = Path(__file__).resolve().parents[2] / "nn"
NN_FILES = sorted(NN_DIR.glob("*.py"))
# submodules that the public API (API.md) names as namespaces: `ag.viz.draw_graph(...)`
PUBLIC_NAMESPACES = {"viz", "tracing"}


def _is_internal(attr: str) -> bool:
    """A private name, or an engine submodule that is not a documented namespace."""
    if attr.startswith("_"):
        return True
    return isinstance(getattr(ag, attr, None), types.ModuleType) and attr not in PUBLIC_NAMESPACES


def engine_violations(tree: ast.AST) -> list[str]:
    problems, aliases = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "autograd_core":
                    aliases.add(a.asname or a.name)
                elif a.name.startswith("autograd_core."):
                    problems.append(f"line {node.lineno}: import {a.name} (a submodule)")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("autograd_core."):
                problems.append(f"line {node.lineno}: from {node.module} import ... (a submodule)")
            elif node.module == "autograd_core":
                for a in node.names:
                    if a.name == "*" or _is_internal(a.name):
                        problems.append(f"line {node.lineno}: from autograd_core import {a.name}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and _is_internal(node.attr)
        ):
            problems.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return problems


def foreign_imports(tree: ast.AST) -> list[str]:
    """Imports of anything but NumPy and the standard library (relative imports included)."""
    allowed = set(sys.stdlib_module_names) | {"numpy", "__future__"}
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = ["." * node.level + (node.module or "")]
        else:
            continue
        problems += [f"line {node.lineno}: {n}" for n in names if n.split(".")[0] not in allowed]
    return problems


def test_the_nn_package_is_found():
    names = {p.name for p in NN_FILES}
    assert {"__init__.py", "module.py", "reference.py", "layers.py"} <= names


@pytest.mark.parametrize("path", NN_FILES, ids=lambda p: p.name)
def test_nn_uses_only_the_public_engine_api(path):
    problems = engine_violations(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    assert not problems, f"{path.name} reaches into autograd_core internals:\n" + "\n".join(
        problems
    )


def test_reference_imports_no_engine_code():
    path = NN_DIR / "reference.py"
    problems = foreign_imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    assert not problems, "nn/reference.py must import only numpy and the stdlib:\n" + "\n".join(
        problems
    )


@pytest.mark.parametrize(
    "source, expected",
    [
        ("import autograd_core as ag\nx = ag.relu", []),
        ("import autograd_core.ops", ["submodule"]),
        ("from autograd_core.tensor import Tensor", ["submodule"]),
        ("from autograd_core import ops", ["import ops"]),
        ("from autograd_core import _raw", ["import _raw"]),
        ("from autograd_core import Tensor", []),
        ("import autograd_core as ag\nag.ops.relu", ["ag.ops"]),
        ("import autograd_core as ag\nag._default_dtype", ["ag._default_dtype"]),
        ("import autograd_core as engine\nengine.graph.local", ["engine.graph"]),
    ],
)
def test_the_checker_itself(source, expected):
    problems = engine_violations(ast.parse(source))
    assert len(problems) == len(expected) and all(
        e in p for e, p in zip(expected, problems, strict=True)
    )


def test_the_reference_checker_itself():
    src = "\n".join([
        "import numpy as np", "from collections.abc import Sequence", "import autograd_core",
        "from .module import M", "import nn",
    ])
    assert [p.split(": ")[1] for p in foreign_imports(ast.parse(src))] == [
        "autograd_core",
        ".module",
        "nn",
    ]
