"""Bytecode for the browser runtime, compiled by Pyodide's own interpreter (``pycompile.mjs``).

A stock Pyodide boot spends most of its time compiling the standard library from source.
Compiled once at build time, it boots in well under half the time:

- the stdlib zip gets a sourceless ``.pyc`` in place of each ``.py`` (``json/__init__.pyc``):
  zipimport looks for ``<name>.pyc`` beside the package folders, never in ``__pycache__``, and
  imports it without compiling; it replaces ``python_stdlib.zip`` in the site's runtime folder;
- the checker package gets ``<name>.pyc`` beside each source, in the wheel, which the page
  puts on ``sys.path`` as it is (zipimport: no unpacking, no directory scans; ready about
  110 ms sooner on a cold start than installing it into site-packages, measured). The wheel
  keeps the ``.py`` files, so tracebacks show source lines; a CPython that installs the wheel
  finds the ``.py`` first and ignores the foreign bytecode.

The pycs are hash-based and unchecked (PEP 552): zip members carry no real mtimes, and nothing
in the browser edits the sources. The host CPython cannot write them: its magic number differs.

One Node process does both jobs (a Pyodide boot costs ≈2.5 s). Results are cached under the
cache folder, keyed by the Pyodide version, a digest of the inputs and of ``pycompile.mjs``;
unchanged inputs do not run Node at all. Outputs are byte-identical for identical inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NamedTuple

from sphinx_access_checker import wheel

HERE: Final = Path(__file__).resolve().parent
SCRIPT: Final = HERE / "pycompile.mjs"
MIN_NODE: Final = 20
TIMEOUT_SECONDS: Final = 600
NODE_HINT: Final = "Node 20+ is needed to precompile the runtime (or set access_checker_compile = False)"
_EPOCH: Final = (1980, 1, 1, 0, 0, 0)


class CompileError(Exception):
    """Precompiling failed; the message is one line saying what failed and what to do."""


@dataclass(frozen=True)
class Compiled:
    """What :func:`compile_all` produced (from its cache or from a Node run)."""

    stdlib: Path
    """The compiled stdlib zip, to serve in place of ``python_stdlib.zip``."""
    package: dict[str, bytes] | None
    """Archive path (``access_checker/policy.pyc``, beside its source) → pyc bytes."""
    magic: bytes
    """Pyodide's ``importlib.util.MAGIC_NUMBER``, as found in the compiled files."""
    ran_node: bool
    """False when everything came from the cache."""
    report: dict[str, Any] = field(default_factory=dict)
    """The JSON line ``pycompile.mjs`` printed (counts, seconds); empty when nothing ran."""


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


def _package_sources(package_dir: Path) -> list[str]:
    """The package's .py files (relative, POSIX): exactly the sources the wheel ships."""
    if not package_dir.is_dir():
        raise CompileError(f"package folder {package_dir} does not exist.")
    return [p.relative_to(package_dir).as_posix() for p in wheel.source_files(package_dir) if p.suffix == ".py"]


def _stdlib_entry(package: Path, version: str, cache_dir: Path, script_digest: str) -> Path:
    source_digest = _sha256((package / "python_stdlib.zip").read_bytes())
    key = _sha256(f"stdlib\0{version}\0{source_digest}\0{script_digest}".encode())
    return cache_dir / f"stdlib-{version}-{key[:16]}.zip"


def _package_entry(package_dir: Path, files: list[str], version: str, cache_dir: Path, script_digest: str) -> Path:
    digest = hashlib.sha256(f"package\0{version}\0{script_digest}\0{package_dir.name}\0".encode())
    for rel in files:
        digest.update(rel.encode() + b"\0" + (package_dir / rel).read_bytes() + b"\0")
    return cache_dir / f"package-{package_dir.name}-{digest.hexdigest()[:16]}.zip"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise CompileError(f"{NODE_HINT}: `node` is not on PATH.")
    try:
        found = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=60, check=True).stdout.strip()
        major = int(found.lstrip("v").split(".")[0])
    except (OSError, subprocess.SubprocessError, ValueError):
        raise CompileError(f"{NODE_HINT}: `{node} --version` failed.") from None
    if major < MIN_NODE:
        raise CompileError(f"{NODE_HINT}: found {found} at {node}.")
    return node


def _run_node(job: dict[str, Any], workdir: Path) -> dict[str, Any]:
    node = _node()
    job_file = workdir / "job.json"
    job_file.write_text(json.dumps(job))
    try:
        done = subprocess.run(
            [node, str(SCRIPT), "--job", str(job_file)],
            capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False,
        )
    except subprocess.TimeoutExpired:
        raise CompileError(f"precompiling with Pyodide took over {TIMEOUT_SECONDS} s and was stopped; "
                           "rerun the build (or set access_checker_compile = False).") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        ours = [line for line in lines if line.startswith("pycompile.mjs:")]
        reason = (ours or lines or [f"exit status {done.returncode}, no message"])[-1]
        raise CompileError(f"precompiling with Pyodide failed ({reason}); fix that, "
                           "or set access_checker_compile = False to ship sources.")
    try:
        report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise CompileError(f"{SCRIPT.name} printed no JSON report; rerun the build "
                           "(or set access_checker_compile = False).") from None
    return report


def _write_pyc_archive(files: dict[str, bytes], target: Path) -> None:
    """The package's pycs as one cache file (a stored zip), replaced atomically."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    tmp.replace(target)


def _read_pyc_archive(path: Path, prefix: str) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {f"{prefix}/{name}": archive.read(name) for name in sorted(archive.namelist())}


def _prune(keep: Path, pattern: str) -> None:
    """Drop older cache entries of the same kind (entries are never edited, only replaced)."""
    for old in keep.parent.glob(pattern):
        if old != keep:
            old.unlink(missing_ok=True)


def _first_magic(stdlib: Path | None, package: dict[str, bytes] | None) -> bytes:
    if package:
        return next(iter(package.values()))[:4]
    if stdlib is not None:
        with zipfile.ZipFile(stdlib) as archive:
            for name in archive.namelist():
                if name.endswith(".pyc"):
                    return archive.read(name)[:4]
    return b""


class _Result(NamedTuple):
    stdlib: Path | None
    package: dict[str, bytes] | None
    report: dict[str, Any]  # empty: Node did not run


def _compile(node_modules: Path, cache_dir: Path, *, stdlib: bool, package_dir: Path | None) -> _Result:
    package, version = _pyodide_dir(node_modules)
    cache_dir.mkdir(parents=True, exist_ok=True)
    script_digest = _sha256(SCRIPT.read_bytes())

    stdlib_entry = _stdlib_entry(package, version, cache_dir, script_digest) if stdlib else None
    files: list[str] = []
    package_entry = None
    if package_dir is not None:
        files = _package_sources(package_dir)
        package_entry = _package_entry(package_dir, files, version, cache_dir, script_digest)

    job: dict[str, Any] = {"pyodide": str(package)}
    report: dict[str, Any] = {}
    stale_stdlib = stdlib_entry is not None and not stdlib_entry.is_file()
    stale_package = package_entry is not None and not package_entry.is_file()
    if stale_stdlib or stale_package:
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".pycompile-") as tmp:
            work = Path(tmp)
            if stale_stdlib:
                job["stdlib"] = {"src": str(package / "python_stdlib.zip"), "out": str(work / "stdlib.zip")}
            if stale_package and package_dir is not None:
                job["package"] = {"root": str(package_dir), "out": str(work / "package"),
                                  "name": package_dir.name, "files": files}
            report = _run_node(job, work)
            if stale_stdlib and stdlib_entry is not None:
                (work / "stdlib.zip").replace(stdlib_entry)
                _prune(stdlib_entry, "stdlib-*.zip")
            if stale_package and package_entry is not None and package_dir is not None:
                written = {rel: (work / "package" / rel).read_bytes() for rel in report["package"]["files"]}
                _write_pyc_archive(written, package_entry)
                _prune(package_entry, f"package-{package_dir.name}-*.zip")

    compiled = None
    if package_entry is not None and package_dir is not None:
        compiled = _read_pyc_archive(package_entry, package_dir.name)
    return _Result(stdlib_entry, compiled, report)


def compile_all(node_modules: Path, cache_dir: Path, package_dir: Path | None = None) -> Compiled:
    """The compiled stdlib zip and (given ``package_dir``) the package's pycs, in one Node run.

    Raises :class:`CompileError` (one line: what failed, what to do).
    """
    stdlib, package, report = _compile(node_modules, cache_dir, stdlib=True, package_dir=package_dir)
    assert stdlib is not None
    return Compiled(stdlib=stdlib, package=package, magic=_first_magic(stdlib, package), ran_node=bool(report), report=report)


def compile_stdlib(node_modules: Path, cache_dir: Path) -> Path:
    """Path of the compiled stdlib zip (cached; Node runs only when an input changed)."""
    return compile_all(node_modules, cache_dir).stdlib


def compile_package(node_modules: Path, package_dir: Path, cache_dir: Path) -> dict[str, bytes]:
    """Archive path (``<package>/…/<name>.pyc``, beside its source) → bytes, for the wheel.

    Archive paths start with ``package_dir.name``; the pycs cover the ``.py`` files the wheel
    ships (:func:`sphinx_access_checker.wheel.source_files`).
    """
    package = _compile(node_modules, cache_dir, stdlib=False, package_dir=package_dir).package
    assert package is not None
    return package


def pyodide_info(node_modules: Path) -> dict[str, Any]:
    """Ask Pyodide itself (one boot, nothing cached): ``magic`` (hex), ``cache_tag``, ``python``…"""
    package, _ = _pyodide_dir(node_modules)
    with tempfile.TemporaryDirectory(prefix="pycompile-") as tmp:
        return _run_node({"pyodide": str(package)}, Path(tmp))


def pyodide_magic(node_modules: Path) -> bytes:
    """``importlib.util.MAGIC_NUMBER`` inside the installed Pyodide (it boots Pyodide: ≈2.5 s)."""
    return bytes.fromhex(pyodide_info(node_modules)["magic"])
