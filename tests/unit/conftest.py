"""Core tests run on CPython and inside Pyodide: standard library, pytest and hypothesis only.

Nothing here may import the Sphinx side or compiled packages (jsonschema needs rpds-py):
tests that do are marked ``cpython_only`` and import it inside the test.
"""

from __future__ import annotations

import builtins
import os
import sys
from collections.abc import Generator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, settings

# ---- the browser's standard library ----------------------------------------------------------
# The site ships only the standard-library modules that stdlib-modules.txt lists (the build's
# trimmed stdlib, sphinx_access_checker/stdlib_trim.py). A checker module that the worker loads
# (the list's "wheel" rows) and that imports anything else would fail in the reader's browser,
# so it fails here, in the test where it happens. builtins.__import__ is wrapped (before the
# checker is imported below): every import statement goes through it, even of a module already
# loaded, and its ``globals`` name the module that runs the statement, so pytest's, hypothesis'
# and the tests' own imports do not count. importlib.import_module() is not seen: the checker
# does not use it. test_shipped_stdlib.py reads the same modules' sources for imports no test
# runs, and for those made before this file was imported (tests/site imports the checker too).
# Inside Pyodide (tests/pyodide) the list is not mounted and the stdlib is whole there: the
# session is run on the trimmed zip by tests/site/test_stdlib_trim.py instead.
STDLIB_LIST = Path(__file__).resolve().parents[2] / "checker/sphinx/sphinx_access_checker/stdlib-modules.txt"
# Imports on paths the worker never takes: (module, function) → what they may import.
NOT_IN_THE_WORKER: Mapping[tuple[str, str], frozenset[str]] = {
    ("access_checker.policy", "default_policy_bytes"): frozenset({"importlib.resources"}),  # the page passes a file
    ("access_checker.web.elements", "El.to_html"): frozenset({"html"}),  # the build writes HTML, the worker trees
}


class ShippedStdlib(NamedTuple):
    allowed: frozenset[str]
    """Standard-library modules the browser has: shipped in the zip, built in, or frozen."""
    worker_modules: frozenset[str]
    """The checker's modules that the worker loads; their imports are checked."""
    violations: list[tuple[str, str, str]]
    """(importing module, its function, imported module) seen since the last check."""
    excused: Mapping[tuple[str, str], frozenset[str]] = NOT_IN_THE_WORKER

    def outside(self, importer: str, function: str, name: str, fromlist: Sequence[str] = ()) -> list[str]:
        """The standard-library modules an import statement loads that the browser lacks."""
        wanted = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        wanted |= {f"{name}.{item}" for item in fromlist if f"{name}.{item}" in sys.modules}  # submodules
        excused = self.excused.get((importer, function), frozenset())
        return sorted(m for m in wanted if m.split(".")[0] in sys.stdlib_module_names
                      and m not in self.allowed and m not in excused)


def _read_stdlib_list() -> ShippedStdlib:
    rows = [line.split() for line in STDLIB_LIST.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    return ShippedStdlib(frozenset(r[0] for r in rows if r[1] in ("zip", "built-in", "frozen")),
                         frozenset(r[0] for r in rows if r[1] == "wheel"), [])


SHIPPED: ShippedStdlib | None = None if sys.platform == "emscripten" else _read_stdlib_list()
_import = builtins.__import__
_checking = False  # only while a test of this folder runs


def _checked_import(name: str, globals: Mapping[str, Any] | None = None, locals: Mapping[str, Any] | None = None,
                    fromlist: Sequence[str] = (), level: int = 0) -> Any:
    module = _import(name, globals, locals, fromlist, level)
    importer = globals.get("__name__") if isinstance(globals, Mapping) else None
    if _checking and SHIPPED is not None and level == 0 and importer in SHIPPED.worker_modules:
        function = sys._getframe(1).f_code.co_qualname
        for missing in SHIPPED.outside(importer, function, name, fromlist or ()):
            SHIPPED.violations.append((importer, function, missing))
    return module


if SHIPPED is not None:
    builtins.__import__ = _checked_import


def pytest_unconfigure(config: pytest.Config) -> None:
    builtins.__import__ = _import


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    global _checking
    _checking = True
    if SHIPPED is not None:
        SHIPPED.violations.clear()
    try:
        return (yield)
    finally:
        _checking = False


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    yield  # the test's set-up and its call (a teardown's imports are not checked)
    if SHIPPED is not None and SHIPPED.violations:
        found = sorted(set(SHIPPED.violations))
        SHIPPED.violations.clear()
        pytest.fail("the checker imports standard-library modules that the browser's trimmed stdlib leaves out: "
                    + "; ".join(f"{module} (in {importer}.{function})" for importer, function, module in found)
                    + f". Refresh {STDLIB_LIST.name} if the worker needs them (.venv/bin/python -m "
                    "sphinx_access_checker.stdlib_trim --write, which traces the worker), or import them only "
                    "where the browser never goes (see NOT_IN_THE_WORKER in tests/unit/conftest.py).", pytrace=False)


@pytest.fixture
def shipped_stdlib() -> ShippedStdlib:
    """The browser's standard library and the guard's state (CPython only)."""
    if SHIPPED is None:
        pytest.fail("the browser's stdlib list is not mounted inside Pyodide: mark the test cpython_only")
    return SHIPPED


from access_checker.policy import Policy, default_policy, load_policy  # noqa: E402  (after the import hook)

settings.register_profile("default", deadline=None)
settings.register_profile("pyodide", database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

POLICIES = Path(__file__).resolve().parent / "policies"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cpython_only: needs compiled packages; not run inside Pyodide")


@pytest.fixture(scope="session")
def policy() -> Policy:
    return default_policy()


@pytest.fixture(scope="session")
def extended_policy() -> Policy:
    """The AI4OS policy plus KMD4EOSC, tutorials and an "intermediate" level: data only."""
    return load_policy(POLICIES / "extended.toml")
