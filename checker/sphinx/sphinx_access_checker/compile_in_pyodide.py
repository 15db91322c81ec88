"""The compile job that runs inside Pyodide, with Pyodide's own interpreter, under Node.

``pycompile.py`` plans it on the host: it fills a work folder with the inputs and a
``job.json`` (a :class:`Job`); ``pycompile.mjs`` boots Pyodide, mounts that folder and runs
this file as ``__main__`` with the folder as its one argument. The job writes its outputs and
``report.json`` (a :class:`Report`) into the same folder. The host imports this module for
the names and types of that exchange only: nothing runs on import.

Why Pyodide's interpreter: a pyc starts with the magic number of the Python that wrote it,
and the host's CPython has another one, so only Pyodide can write pycs that Pyodide loads
without compiling the source again.

Outputs, byte-identical for identical inputs on any host (sorted members, fixed timestamps
and modes, and a fixed hash seed set by ``pycompile.mjs``):

- stdlib: ``python_stdlib.zip`` with each ``.py`` member replaced by a sourceless ``.pyc`` at
  the same path (``json/__init__.py`` → ``json/__init__.pyc``), where zipimport looks, never in
  ``__pycache__``. Code objects are named ``/lib/python3XY.zip/<member>.py``, the name they
  get when zipimport compiles the source, so tracebacks read the same. Other members are
  copied unchanged. Compiled at optimization level 2 (:data:`STDLIB_OPTIMIZE`: no docstrings,
  no ``assert``), as ``python -OO`` would, and without column positions (the interpreter runs
  with ``PYTHONNODEBUGRANGES``, see :func:`debug_ranges`).
- package: a stored zip of ``<name>/<path>.pyc``, one beside each listed source, at level 0
  (:data:`PACKAGE_OPTIMIZE`: the checker keeps its docstrings and its ``assert`` statements)
  and with column positions. Code objects are named ``<name>/<path>.py``.

So a job holds one of the two: ``pycompile.mjs`` starts the interpreter with or without
``PYTHONNODEBUGRANGES`` (``--no-debug-ranges``), and :func:`run` refuses a job whose kind
does not match how it was started.

The pycs are hash-based and unchecked: the loader never reads the source to validate them,
because zip members carry no real mtimes and nothing in the browser edits the sources.

Written for Pyodide's Python and type-checked under the host's settings (Python 3.11).
"""

from __future__ import annotations

import json
import py_compile
import sys
import tempfile
import time
import zipfile
from importlib.util import MAGIC_NUMBER
from pathlib import Path
from typing import Final, NotRequired, TypedDict

JOB_FILE: Final = "job.json"
REPORT_FILE: Final = "report.json"
_EPOCH: Final = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: no build time leaks in
_UNIX: Final = 3  # ZipInfo.create_system: the modes below are Unix modes, whatever the host
# The standard library's bytecode carries no docstrings and no asserts: what `python -OO`
# compiles. That takes the trimmed zip from 3.77 to 3.25 MB (975 to 834 KB with brotli);
# nothing in the browser reads a docstring (no help(), pydoc or doctest there). It is safe
# because CPython supports running its whole standard library under -OO: its modules check
# `__doc__ is not None` where they use one, as Pyodide's own _pyodide.docstring does for the
# docstrings it copies onto its C types at start-up, and its asserts (Pyodide's few included)
# guard internal invariants, not behaviour a caller relies on. The interpreter still runs at
# level 0 (sys.flags.optimize == 0): zipimport loads a member's .pyc whatever level wrote it.
# tests/site/test_pycompile.py checks both in Pyodide; test_stdlib_trim.py runs the session.
STDLIB_OPTIMIZE: Final = 2
# The checker's own modules as written: their asserts and docstrings stay.
PACKAGE_OPTIMIZE: Final = 0


class StdlibJob(TypedDict):
    source: str
    """The stock ``python_stdlib.zip``, relative to the work folder."""
    target: str
    """Where the compiled zip goes, relative to the work folder."""


class PackageJob(TypedDict):
    name: str
    """The import name: archive paths and code object names start with it."""
    root: str
    """The folder holding the sources, relative to the work folder."""
    files: list[str]
    """The ``.py`` files to compile, relative to ``root``, POSIX separators."""
    target: str
    """Where the zip of pycs goes, relative to the work folder."""


class Job(TypedDict, total=False):
    stdlib: StdlibJob
    package: PackageJob


class StdlibReport(TypedDict):
    debug_ranges: bool
    compiled: int
    copied: int
    kept_source: list[str]
    bytes_in: int
    bytes_out: int
    seconds: float


class PackageReport(TypedDict):
    debug_ranges: bool
    compiled: int
    seconds: float


class Report(TypedDict):
    python: str
    magic: str
    cache_tag: str | None
    stdlib: NotRequired[StdlibReport]
    package: NotRequired[PackageReport]


class JobError(Exception):
    """The job cannot be done; the message says which file and why."""


def _pyc(source: Path, dfile: str, scratch: Path, optimize: int) -> bytes:
    """The pyc of ``source`` at the ``optimize`` level; its code objects are named ``dfile``
    (what tracebacks show)."""
    target = scratch / "compiled.pyc"
    py_compile.compile(
        str(source), cfile=str(target), dfile=dfile, doraise=True, optimize=optimize,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    return target.read_bytes()


def _write_zip(members: dict[str, bytes], target: Path, *, deflate: bool) -> None:
    with zipfile.ZipFile(target, "w") as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.create_system = _UNIX
            if name.endswith("/"):
                info.external_attr = (0o40755 << 16) | 0x10  # a directory, for both Unix and DOS readers
                archive.writestr(info, b"")
            elif deflate:
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, members[name], compresslevel=9)
            else:
                info.external_attr = 0o644 << 16
                archive.writestr(info, members[name])


def _syntax_error(error: py_compile.PyCompileError, dfile: str) -> str:
    cause = error.exc_value
    if isinstance(cause, SyntaxError):
        return f"{dfile} line {cause.lineno}: {cause.msg}"
    return f"{dfile}: {error.exc_type_name}: {cause}"


def compile_package(job: PackageJob, work: Path, scratch: Path) -> PackageReport:
    started = time.perf_counter()
    members: dict[str, bytes] = {}
    for rel in sorted(job["files"]):
        dfile = f"{job['name']}/{rel}"
        try:
            members[dfile[:-3] + ".pyc"] = _pyc(work / job["root"] / rel, dfile, scratch, PACKAGE_OPTIMIZE)
        except py_compile.PyCompileError as error:
            raise JobError(_syntax_error(error, dfile)) from None
    _write_zip(members, work / job["target"], deflate=False)
    return {"debug_ranges": debug_ranges(), "compiled": len(members), "seconds": round(time.perf_counter() - started, 2)}


def compile_stdlib(job: StdlibJob, work: Path, scratch: Path) -> StdlibReport:
    started = time.perf_counter()
    # Where Pyodide puts the stdlib zip at boot: the code objects get the names they would
    # get if zipimport compiled the sources there.
    prefix = f"/lib/python{sys.version_info.major}{sys.version_info.minor}.zip"
    if prefix not in sys.path:
        raise JobError(f"{prefix} is not on Pyodide's sys.path ({sys.path}): this Pyodide lays out its stdlib differently")
    source_zip, target = work / job["source"], work / job["target"]
    members: dict[str, bytes] = {}
    kept_source: list[str] = []
    compiled = copied = 0
    source = scratch / "source.py"
    with zipfile.ZipFile(source_zip) as stock:
        for info in stock.infolist():
            name, data = info.filename, stock.read(info)
            if name.endswith(".py"):
                source.write_bytes(data)
                try:
                    members[name[:-3] + ".pyc"] = _pyc(source, f"{prefix}/{name}", scratch, STDLIB_OPTIMIZE)
                    compiled += 1
                    continue
                except py_compile.PyCompileError:
                    kept_source.append(name)  # left as source: importing it fails as it did before
            elif not info.is_dir():
                copied += 1
            members[name] = data
    _write_zip(members, target, deflate=True)
    return {
        "debug_ranges": debug_ranges(), "compiled": compiled, "copied": copied, "kept_source": kept_source,
        "bytes_in": source_zip.stat().st_size, "bytes_out": target.stat().st_size,
        "seconds": round(time.perf_counter() - started, 2),
    }


def debug_ranges() -> bool:
    """Whether this interpreter writes column positions into the code objects it compiles.

    They serve one purpose: the ``^^^^`` under the part of a source line that failed, in a
    traceback. A traceback shows them only beside the source line, and the browser's standard
    library ships no sources, so there they are dead weight: a quarter of its bytecode under
    brotli (834 KB with them, 626 KB without). Line numbers stay. ``PYTHONNODEBUGRANGES`` (or
    ``-X no_debug_ranges``) turns them off for the whole interpreter, which is why the stdlib
    and the package, which ships its sources and keeps them, are compiled in two runs.
    """
    return any(column is not None for _, _, column, _ in compile("x", "<probe>", "eval").co_positions())


def run(work: Path) -> Report:
    job: Job = json.loads((work / JOB_FILE).read_text())
    ranges = debug_ranges()
    if "stdlib" in job and ranges:
        raise JobError("the standard library is compiled without column positions: run this job with "
                       "`pycompile.mjs --no-debug-ranges` (PYTHONNODEBUGRANGES)")
    if "package" in job and not ranges:
        raise JobError("the package keeps its column positions: run this job without --no-debug-ranges")
    report: Report = {
        "python": sys.version.split()[0], "magic": MAGIC_NUMBER.hex(), "cache_tag": sys.implementation.cache_tag,
    }
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        if "package" in job:
            report["package"] = compile_package(job["package"], work, scratch)
        if "stdlib" in job:
            report["stdlib"] = compile_stdlib(job["stdlib"], work, scratch)
    (work / REPORT_FILE).write_text(json.dumps(report))
    return report


if __name__ == "__main__":
    run(Path(sys.argv[1]))
