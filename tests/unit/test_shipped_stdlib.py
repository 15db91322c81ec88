"""The checker's worker modules import only the standard library the browser ships.

The site's stdlib is trimmed to ``stdlib-modules.txt`` (sphinx_access_checker/stdlib_trim.py).
conftest.py fails a test in which a worker module imports a module outside it (the fixture
``shipped_stdlib`` is that guard: the list, its excuses and what it saw); these tests
prove that guard sees such an import, and read the worker modules' sources for the imports
that no test runs. CPython only: inside Pyodide the list is not mounted.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import Any

import pytest

import access_checker

pytestmark = pytest.mark.cpython_only

PACKAGE = Path(access_checker.__file__).resolve().parent


def test_the_guard_sees_an_import_by_a_worker_module(shipped_stdlib: Any) -> None:
    assert "access_checker.web.session" in shipped_stdlib.worker_modules
    assert {"json", "re", "tomllib", "encodings.idna"} <= shipped_stdlib.allowed
    assert "xmlrpc" not in shipped_stdlib.allowed
    source = "import json\nimport xmlrpc.client\ndef default_policy_bytes():\n    from importlib import resources\n"
    exec(compile(source, "<worker>", "exec"), {"__name__": "access_checker.web.session"})
    exec(compile(source, "<elsewhere>", "exec"), {"__name__": "tests.unit.elsewhere"})  # not the checker's
    policy = {"__name__": "access_checker.policy"}
    exec(compile(source, "<policy>", "exec"), policy)
    policy["default_policy_bytes"]()  # excused: the worker never reads the package's own policy
    found = sorted(shipped_stdlib.violations)
    shipped_stdlib.violations.clear()  # seen on purpose: not this test's failure
    assert found == [
        ("access_checker.policy", "<module>", "xmlrpc"), ("access_checker.policy", "<module>", "xmlrpc.client"),
        ("access_checker.web.session", "<module>", "xmlrpc"), ("access_checker.web.session", "<module>", "xmlrpc.client"),
    ]


def _source(module: str) -> Path:
    path = PACKAGE.joinpath(*module.split(".")[1:])
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _imports(tree: ast.Module) -> list[tuple[str, str, list[str]]]:
    """(function qualname or ``<module>``, module imported, names taken from it) for every
    absolute import statement in the tree, at any depth."""
    found: list[tuple[str, str, list[str]]] = []

    def visit(node: ast.AST, scope: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            where = ".".join(scope) or "<module>"
            if isinstance(child, ast.Import):
                found.extend((where, alias.name, []) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((where, child.module, [alias.name for alias in child.names]))
            inner = [*scope, child.name] if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) else scope
            visit(child, inner)

    visit(tree, [])
    return found


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def test_the_worker_modules_import_only_the_shipped_stdlib(shipped_stdlib: Any) -> None:
    problems = []
    for module in sorted(shipped_stdlib.worker_modules):
        tree = ast.parse(_source(module).read_text(encoding="utf-8"))
        for function, name, names in _imports(tree):
            if name == "__future__":
                continue
            submodules = [item for item in names if _is_module(f"{name}.{item}")]
            for missing in shipped_stdlib.outside(module, function, name):
                problems.append(f"{module}.{function}: {missing}")
            for item in submodules:
                problems += [f"{module}.{function}: {m}" for m in shipped_stdlib.outside(module, function, f"{name}.{item}")]
    assert not problems, (
        f"worker modules import standard-library modules that the browser's stdlib leaves out: {problems}; "
        "refresh stdlib-modules.txt if the worker needs them (.venv/bin/python -m sphinx_access_checker.stdlib_trim "
        "--write), or import them only where the browser never goes (NOT_IN_THE_WORKER in tests/unit/conftest.py)")


def test_every_excuse_names_a_real_function(shipped_stdlib: Any) -> None:
    for module, function in shipped_stdlib.excused:
        tree = ast.parse(_source(module).read_text(encoding="utf-8"))
        assert function in {where for where, _, _ in _imports(tree)}, f"{module}.{function} imports nothing (any more)"
