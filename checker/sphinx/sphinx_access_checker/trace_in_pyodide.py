"""Which modules the worker's Python loads: the tracer's Python half, run inside Pyodide.

``stdlib_trace.mjs`` boots Pyodide under Node with the options the page's worker gives
``loadPyodide``, runs this file once (``runPython``, before anything else, as the worker runs
its first line), then plays the worker's part and calls :func:`mark` after each phase; at the
end, :func:`import_encodings` and :func:`describe`. ``stdlib_trim.py`` plans the run and reads
its report on the host; it imports this module for the names of that exchange only.

Nothing here may load a module that the worker would not have loaded by then: at module level
only ``sys`` (built in) and ``__future__`` (which Pyodide's start-up has imported already) are
imported, and :func:`mark` imports nothing. :func:`describe` and :func:`import_encodings` run
after the last phase is marked, so what they import is not counted.

Written for Pyodide's Python and type-checked under the host's settings (Python 3.11).
"""

from __future__ import annotations

import sys
from typing import Final, TypedDict

# Phases, in order: what Pyodide's start-up imported (loadPyodide), what importing the
# checker's entry point added, what the session added (start, code_origin, every message),
# and what importing each module of the encodings package added (the build keeps it whole).
PHASES: Final = ("boot", "import", "session", "encodings")

# Where a module came from: the stdlib zip (the only ones the build ships), compiled into the
# interpreter (built in, or frozen: Python's own start-up modules), the checker's wheel, or
# JavaScript (Pyodide's proxies of JS modules).
ORIGINS: Final = ("zip", "built-in", "frozen", "wheel", "javascript")


class Row(TypedDict):
    name: str
    origin: str
    phase: str


_seen: dict[str, str] = {}  # module name → the phase that first saw it


def mark(phase: str) -> int:
    """Attribute every module loaded since the last mark to ``phase``; returns how many."""
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}")
    new = [name for name in sys.modules if name not in _seen]
    for name in new:
        _seen[name] = phase
    return len(new)


def stdlib_zip() -> str:
    """Where Pyodide put the stdlib zip at start-up (on ``sys.path``)."""
    path = f"/lib/python{sys.version_info.major}{sys.version_info.minor}.zip"
    if path not in sys.path:
        raise RuntimeError(f"{path} is not on Pyodide's sys.path ({sys.path}): this Pyodide lays out its stdlib differently")
    return path


def import_encodings() -> list[str]:
    """Import every module of the encodings package; returns the names of all of them.

    The build ships the package whole, whatever the trace saw: a reader's browser may decode
    any text. Modules that cannot load in Pyodide (Windows code pages) still count as members.
    """
    import contextlib
    import importlib
    import zipfile

    with zipfile.ZipFile(stdlib_zip()) as archive:
        stems = {n.rsplit(".", 1)[0] for n in archive.namelist() if n.startswith("encodings/") and n.endswith((".py", ".pyc"))}
    names = sorted(stem.removesuffix("/__init__").replace("/", ".") for stem in stems)
    for name in names:
        with contextlib.suppress(ImportError):  # e.g. encodings.mbcs: Windows only
            importlib.import_module(name)
    return names


def _origin(name: str, stdlib: str, wheel: str) -> str:
    module = sys.modules[name]
    spec = getattr(module, "__spec__", None)
    origin = getattr(spec, "origin", None)
    if origin in ("built-in", "frozen"):
        return str(origin)
    if isinstance(origin, str) and origin.startswith(stdlib + "/"):
        member = origin[len(stdlib) + 1:].rsplit(".", 1)[0]
        expected = name.replace(".", "/")
        # The build finds a module's file from its name: prove that it can.
        if member not in (expected, expected + "/__init__"):
            raise RuntimeError(f"{name} was loaded from {origin}, not from the file its name gives")
        return "zip"
    if isinstance(origin, str) and origin.startswith(wheel + "/"):
        return "wheel"
    if origin == "javascript":  # pyodide_js: Pyodide's proxy of its own JS module
        return "javascript"
    raise RuntimeError(f"{name}: unexpected origin {origin!r}")


def describe(wheel: str, encodings: list[str]) -> str:
    """The trace as JSON: a :class:`Row` per module seen (``__main__`` left out), by name.

    Members of the encodings package that could not be imported get a row too (origin
    ``zip``, phase ``encodings``): the build ships them with the rest of the package.
    """
    import json

    stdlib = stdlib_zip()
    rows: dict[str, Row] = {}
    for name, phase in _seen.items():
        if name != "__main__":
            rows[name] = {"name": name, "origin": _origin(name, stdlib, wheel), "phase": phase}
    for name in encodings:
        rows.setdefault(name, {"name": name, "origin": "zip", "phase": "encodings"})
    return json.dumps([rows[name] for name in sorted(rows)])
