"""Bytecode for the browser runtime, compiled by Pyodide's own interpreter, with a cache.

A stock Pyodide boot spends most of its time compiling the standard library from source.
Compiled once at build time, it boots in well under half the time:

- the stdlib zip gets a sourceless ``.pyc`` in place of each ``.py`` (``json/__init__.pyc``):
  zipimport looks for ``<name>.pyc`` beside the package folders, never in ``__pycache__``, and
  imports it without compiling; it replaces ``python_stdlib.zip`` in the site's runtime folder.
  These are compiled as ``python -OO`` would, without docstrings and asserts (see
  ``compile_in_pyodide.STDLIB_OPTIMIZE``), and without column positions (``debug_ranges``);
- the checker package gets ``<name>.pyc`` beside each source, in the wheel, which the page
  puts on ``sys.path`` as it is (zipimport: no unpacking, no directory scans; ready about
  110 ms sooner on a cold start than installing it into site-packages, measured). The wheel
  keeps the ``.py`` files, so tracebacks show source lines; a CPython that installs the wheel
  finds the ``.py`` first and ignores the foreign bytecode.

The compiling happens in ``compile_in_pyodide.py``, run by ``pycompile.mjs`` (Node, a
Pyodide boot of ≈2.5 s). The stdlib and the package are compiled in two runs, side by side,
because the stdlib's interpreter omits column positions (``--no-debug-ranges``) and the
package's keeps them. This module plans the jobs, runs them, and caches the results under the
cache folder, keyed by the Pyodide version, a digest of the inputs and of those two files;
unchanged inputs do not run Node at all.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sphinx_access_checker import wheel
from sphinx_access_checker.compile_in_pyodide import JOB_FILE, REPORT_FILE, Job, JobError, Report

HERE: Final = Path(__file__).resolve().parent
RUNNER: Final = HERE / "pycompile.mjs"
JOB_SCRIPT: Final = HERE / "compile_in_pyodide.py"
TIMEOUT_SECONDS: Final = 600
_OPT_OUT: Final = "(or set access_checker_compile = False)"


class CompileError(Exception):
    """Precompiling failed; the message is one line saying what failed and what to do."""


@dataclass(frozen=True)
class Compiled:
    """What :func:`compile_all` produced (from its cache or from a Node run)."""

    stdlib: Path
    """The compiled stdlib zip, to serve in place of ``python_stdlib.zip``."""
    package: dict[str, bytes]
    """Archive path (``access_checker/policy.pyc``, beside its source) → pyc bytes."""
    report: Report | None
    """What the compile job reported (only the parts it compiled); None when the cache answered."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pyodide_dir(node_modules: Path) -> tuple[Path, str]:
    package = node_modules / "pyodide"
    problem = CompileError(f"{package} is missing or incomplete: run the set-up first (`make setup`, which runs `npm ci`).")
    try:
        version = json.loads((package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        raise problem from None
    if not isinstance(version, str) or not (package / "python_stdlib.zip").is_file():
        raise problem
    return package, version


def _node_minimum(node_modules: Path) -> int | None:
    """The oldest Node major version the project supports: ``engines.node`` of the
    package.json beside ``node_modules`` (``">=20"``), or None when it names none."""
    manifest = node_modules.parent / "package.json"
    try:
        wanted = json.loads(manifest.read_text()).get("engines", {}).get("node")
    except (OSError, ValueError, AttributeError):
        return None
    if wanted is None:
        return None
    match = re.fullmatch(r"\s*>=\s*(\d+)(\.\d+)*\s*", str(wanted))
    if match is None:
        raise CompileError(f'{manifest}: engines.node is {wanted!r}; write it as ">=MAJOR" (e.g. ">=20").')
    return int(match[1])


def _node(node_modules: Path) -> str:
    minimum = _node_minimum(node_modules)
    hint = f"Node {minimum}+" if minimum else "Node"
    hint += f" is needed to precompile the runtime {_OPT_OUT}"
    node = shutil.which("node")
    if node is None:
        raise CompileError(f"{hint}: `node` is not on PATH.")
    try:
        found = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=60, check=True).stdout.strip()
        major = int(found.lstrip("v").split(".")[0])
    except (OSError, subprocess.SubprocessError, ValueError):
        raise CompileError(f"{hint}: `{node} --version` failed.") from None
    if minimum and major < minimum:
        raise CompileError(f"{hint}: found {found} at {node}.")
    return node


def _run(node: str, node_modules: Path, job: Job, work: Path) -> Report:
    """Run the compile job on the work folder (inputs in place); returns its report."""
    (work / JOB_FILE).write_text(json.dumps(job))
    # The stdlib without column positions: compile_in_pyodide.debug_ranges says why.
    flags = ["--no-debug-ranges"] if "stdlib" in job else []
    command = [node, str(RUNNER), *flags, str(node_modules / "pyodide"), str(JOB_SCRIPT), str(work)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise CompileError(f"precompiling with Pyodide took over {TIMEOUT_SECONDS} s and was stopped; "
                           f"rerun the build {_OPT_OUT}.") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        ours = [line for line in lines if line.startswith(f"{RUNNER.name}:")]
        reason = (ours or lines or [f"exit status {done.returncode}, no message"])[-1]
        reason = reason.replace(f"{JobError.__name__}: ", "", 1)
        raise CompileError(f"precompiling with Pyodide failed ({reason}); fix that, "
                           "or set access_checker_compile = False to ship sources.")
    try:
        report: Report = json.loads((work / REPORT_FILE).read_text())
    except (OSError, ValueError):
        raise CompileError(f"{JOB_SCRIPT.name} wrote no report; rerun the build {_OPT_OUT}.") from None
    return report


def _compiler_digest() -> str:
    return _sha256(RUNNER.read_bytes() + b"\0" + JOB_SCRIPT.read_bytes())


def _prune(keep: Path, pattern: str) -> None:
    """Drop older cache entries of the same kind (entries are never edited, only replaced)."""
    for old in keep.parent.glob(pattern):
        if old != keep:
            old.unlink(missing_ok=True)


def compile_all(node_modules: Path, cache_dir: Path, package_dir: Path, *, stdlib_sha256: str) -> Compiled:
    """The compiled stdlib zip and the package's pycs (for the wheel), in at most two Node runs
    (one for each, at the same time).

    ``stdlib_sha256`` is the pinned digest of the npm ``python_stdlib.zip``: the source of
    what ships is checked as the other runtime files are. Archive paths of the pycs start
    with ``package_dir.name`` and cover the ``.py`` files the wheel ships
    (:func:`sphinx_access_checker.wheel.source_files`).

    Raises :class:`CompileError` (one line: what failed, what to do).
    """
    pyodide, version = _pyodide_dir(node_modules)
    if not package_dir.is_dir():
        raise CompileError(f"package folder {package_dir} does not exist.")
    stock = pyodide / "python_stdlib.zip"
    stdlib_digest = _sha256(stock.read_bytes())
    if stdlib_digest != stdlib_sha256:
        raise CompileError(f"{stock} does not match its pinned SHA-256 (pyodide-sha256.json): reinstall with `npm ci`.")
    compiler = _compiler_digest()
    stdlib_key = _sha256(f"stdlib\0{version}\0{stdlib_digest}\0{compiler}".encode())
    stdlib_entry = cache_dir / f"stdlib-{version}-{stdlib_key[:16]}.zip"

    name = package_dir.name
    files = [p.relative_to(package_dir).as_posix() for p in wheel.source_files(package_dir) if p.suffix == ".py"]
    package_key = hashlib.sha256(f"package\0{version}\0{compiler}\0{name}\0".encode())
    for rel in files:
        package_key.update(rel.encode() + b"\0" + (package_dir / rel).read_bytes() + b"\0")
    package_entry = cache_dir / f"package-{name}-{package_key.hexdigest()[:16]}.zip"

    report = None
    if not (stdlib_entry.is_file() and package_entry.is_file()):
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Inside the cache folder, so that finished outputs move into place atomically.
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".pycompile-") as tmp:
            runs: list[tuple[Job, Path]] = []
            if not package_entry.is_file():
                work = Path(tmp) / "package"
                for rel in files:
                    (work / "package" / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(package_dir / rel, work / "package" / rel)
                runs.append(({"package": {"name": name, "root": "package", "files": files, "target": "package.zip"}},
                             work))
            if not stdlib_entry.is_file():
                work = Path(tmp) / "stdlib"
                work.mkdir()
                shutil.copyfile(stock, work / "python_stdlib.zip")
                runs.append(({"stdlib": {"source": "python_stdlib.zip", "target": "stdlib.zip"}}, work))
            node = _node(node_modules)
            with ThreadPoolExecutor(max_workers=len(runs)) as pool:
                reports = list(pool.map(lambda run: _run(node, node_modules, *run), runs))
            report = reports[0]
            for other in reports[1:]:
                if "package" in other:
                    report["package"] = other["package"]
                if "stdlib" in other:
                    report["stdlib"] = other["stdlib"]
            for job, work in runs:
                for kind, entry, pattern in (("package", package_entry, f"package-{name}-*.zip"),
                                             ("stdlib", stdlib_entry, "stdlib-*.zip")):
                    if kind in job:
                        (work / f"{kind}.zip").replace(entry)
                        _prune(entry, pattern)

    with zipfile.ZipFile(package_entry) as archive:
        package = {member: archive.read(member) for member in archive.namelist()}
    return Compiled(stdlib=stdlib_entry, package=package, report=report)
