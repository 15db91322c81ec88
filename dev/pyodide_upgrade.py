"""Move the site to another Pyodide release, then check it: ``make pyodide-upgrade VERSION=…``.

Usage: python dev/pyodide_upgrade.py VERSION [--cache-dir DIR] [--no-checks]

Every place that names the release, and what this script does there:

- package.json, package-lock.json: ``npm install --save-exact pyodide@VERSION`` (this also
  puts the release into node_modules);
- checker/sphinx/sphinx_access_checker/pyodide-sha256.json: the version, and the SHA-256 of
  each boot file the site ships, computed from the installed package (the list of files stays;
  a release without one of them stops the script, since the extension then needs work);
- Makefile: ``--python-version X.Y`` of the pure-Python wheels tests/pyodide installs into
  Pyodide, from the release's own Python version (``info.python`` in its pyodide-lock.json);
  when that changes, the wheels are downloaded again;
- checker/sphinx/sphinx_access_checker/stdlib-modules.txt: the standard-library modules the
  site ships, traced again under the new release (``python -m sphinx_access_checker.stdlib_trim
  --write``), whose start-up may load other modules.

The rest follows from these: the compile step's cache and the staged runtime's folder are
keyed by the installed version, and bench reads it from node_modules.

Then the checks: a strict build of the site into a temporary folder, the compile step's tests
(tests/site/test_pycompile.py: bytecode written and imported by the new interpreter), the
trimmed stdlib's (tests/site/test_stdlib_trim.py: the checker's session on it) and the core
suite inside Pyodide (tests/pyodide). The script prints the boot files' sizes before and
after, the staged runtime's sizes and each check's duration. A failed check leaves the files
as they are, to look at; running the script with the previous version puts everything back.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NODE_MODULES = REPO / "node_modules"
PYODIDE = NODE_MODULES / "pyodide"
PINS = REPO / "checker" / "sphinx" / "sphinx_access_checker" / "pyodide-sha256.json"
MAKEFILE = REPO / "Makefile"
WHEELS = REPO / ".cache" / "pyodide-wheels"
# The Makefile rule that downloads the wheels for tests/pyodide names Pyodide's Python.
WHEELS_PYTHON = re.compile(r"(--python-version )(\d+\.\d+)\b")
CHECKED_TESTS = ("tests/site/test_pycompile.py", "tests/site/test_stdlib_trim.py", "tests/pyodide")


class UpgradeError(Exception):
    """A step failed; the message says which and what to do."""


def _run(command: Sequence[str]) -> float:
    """Run a command in the repository, its output shown; returns its duration in seconds."""
    print("$", " ".join(command), flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, check=False)
    if done.returncode != 0:
        raise UpgradeError(f"`{' '.join(command)}` failed (exit status {done.returncode}).")
    return time.perf_counter() - started


def installed_version() -> str | None:
    try:
        version = json.loads((PYODIDE / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    return str(version)


def release_python() -> str:
    """The Python version of the installed release, e.g. ``3.14.2``."""
    return str(json.loads((PYODIDE / "pyodide-lock.json").read_text())["info"]["python"])


def boot_file_sizes(files: Sequence[str]) -> dict[str, int]:
    return {name: (PYODIDE / name).stat().st_size for name in files if (PYODIDE / name).is_file()}


def write_pins(version: str) -> list[str]:
    """pyodide-sha256.json for the installed release; returns the boot files whose digest changed."""
    pins = json.loads(PINS.read_text())
    missing = [name for name in pins["files"] if not (PYODIDE / name).is_file()]
    if missing:
        raise UpgradeError(f"pyodide {version} has no {', '.join(missing)}: the extension stages these "
                           f"files ({PINS.name}), so it needs changing before this release can ship.")
    digests = {name: hashlib.sha256((PYODIDE / name).read_bytes()).hexdigest() for name in pins["files"]}
    changed = [name for name, digest in digests.items() if pins["files"][name] != digest]
    PINS.write_text(json.dumps({"version": version, "files": digests}, indent=2) + "\n")
    return changed


def set_wheels_python(python: str) -> str:
    """Point the Makefile's wheel download at ``python`` (major.minor); returns the old one."""
    text = MAKEFILE.read_text()
    found = WHEELS_PYTHON.findall(text)
    if len(found) != 1:
        raise UpgradeError(f"expected one `--python-version X.Y` in {MAKEFILE.name} (the wheels for tests/pyodide), "
                           f"found {len(found)}: update this script to the Makefile.")
    old: str = found[0][1]
    if old != python:
        MAKEFILE.write_text(WHEELS_PYTHON.sub(rf"\g<1>{python}", text))
    return old


def staged_runtime_sizes(html: Path) -> dict[str, int]:
    runtime = next((html / "_static" / "access-checker").glob("runtime-*"))
    return {p.name: p.stat().st_size for p in sorted(runtime.iterdir()) if not p.name.startswith(".")}


def _sizes(title: str, sizes: dict[str, int]) -> None:
    print(title)
    for name, size in sizes.items():
        print(f"  {name:<20} {size:>12,} bytes")


def check(cache_dir: Path | None) -> None:
    """The strict build and the tests that run the new interpreter; prints what they took."""
    with tempfile.TemporaryDirectory(prefix="pyodide-upgrade-") as tmp:
        html = Path(tmp) / "html"
        build = [sys.executable, "-m", "sphinx", "-q", "-n", "-W", "--keep-going", "-b", "html"]
        if cache_dir is not None:
            build += ["-D", f"access_checker_cache_dir={cache_dir}"]
        build_seconds = _run([*build, ".", str(html)])
        _sizes("staged runtime (python_stdlib.zip compiled to bytecode):", staged_runtime_sizes(html))
    test_seconds = {path: _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path])
                    for path in CHECKED_TESTS}
    print(f"strict build: {build_seconds:.1f} s (it compiles and compresses the runtime when the release is new to the cache)")
    for path, seconds in test_seconds.items():
        print(f"{path}: {seconds:.1f} s")


def upgrade(version: str, cache_dir: Path | None = None) -> None:
    pins = json.loads(PINS.read_text())
    before_version = installed_version()
    before = boot_file_sizes(pins["files"])
    before_python = release_python() if before_version else None

    _run(["npm", "install", "--save-exact", "--no-audit", "--no-fund", "--loglevel=error", f"pyodide@{version}"])
    if installed_version() != version:
        raise UpgradeError(f"npm installed pyodide {installed_version()}, not {version}.")
    changed = write_pins(version)
    python = release_python()
    wheels_python = ".".join(python.split(".")[:2])
    old_wheels_python = set_wheels_python(wheels_python)
    if old_wheels_python != wheels_python:
        # Wheels chosen for another Python may not install: download them afresh.
        shutil.rmtree(WHEELS, ignore_errors=True)
        _run(["make", "--no-print-directory", str(WHEELS.relative_to(REPO) / ".installed")])

    # The new release's start-up may load other stdlib modules: trace the worker again (this
    # compiles the new stdlib into the build's cache, which the strict build then reuses).
    trace = [sys.executable, "-m", "sphinx_access_checker.stdlib_trim", "--write", "--node-modules", str(NODE_MODULES)]
    if cache_dir is not None:
        trace += ["--cache-dir", str(cache_dir / "pyc")]
    _run(trace)

    print(f"pyodide {before_version} → {version}; Python {before_python} → {python}; "
          f"wheels for tests/pyodide: Python {old_wheels_python} → {wheels_python}")
    print(f"{PINS.relative_to(REPO)}: {', '.join(changed) or 'no digest'} changed")
    _sizes(f"npm boot files of {before_version}:", before)
    _sizes(f"npm boot files of {version}:", boot_file_sizes(pins["files"]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Move the site to another Pyodide release (npm version), then check it.")
    parser.add_argument("version", help="the npm version of pyodide, e.g. 314.0.8")
    parser.add_argument("--cache-dir", type=Path, help="the build's access_checker_cache_dir (default: the site's own)")
    parser.add_argument("--no-checks", action="store_true", help="update the files only (run the checks before committing)")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"\d+\.\d+\.\d+(?:[-.][0-9A-Za-z.]+)?", args.version):
        parser.error(f"{args.version!r} is not an npm version number such as 314.0.8")
    try:
        upgrade(args.version, args.cache_dir)
        if not args.no_checks:
            check(args.cache_dir)
    except UpgradeError as exc:
        print(f"pyodide_upgrade: {exc}", file=sys.stderr)
        return 1
    print("Done: review `git diff`, run `make test`, and commit the changed files together.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
