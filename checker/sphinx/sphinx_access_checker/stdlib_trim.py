"""A trimmed standard library for the browser runtime: only what the page's worker loads.

Pyodide's ``python_stdlib.zip`` holds the whole of CPython's standard library (3.0 MB once
compiled without docstrings and column positions, and deflated); the page's worker loads about
a quarter of its modules. With ``access_checker_trim_stdlib`` on (the default), the build ships
only the modules that ``stdlib-modules.txt`` lists with the origin ``zip``, taken from the
compile step's output
(``.pyc``; the npm sources when ``access_checker_compile`` is off), in a zip *stored without
compression*, so that the host's HTTP compression (brotli, gzip) works across all its files
instead of meeting already-deflated members. The zip is deterministic (sorted members, fixed
times and modes) and cached by content under the cache folder; its name, and therefore the
runtime folder's, changes when its content does.

The list is generated, committed and reviewed, never edited by hand:

- ``python -m sphinx_access_checker.stdlib_trim --write`` traces the worker under Node
  (``stdlib_trace.mjs`` plays the worker, ``trace_in_pyodide.py`` counts modules) and writes
  it; without ``--write`` it only compares, and prints what the shipped modules weigh;
- ``tests/site/test_stdlib_trim.py`` fails when the list differs from a fresh trace, and runs
  the same session on the trimmed zip;
- ``tests/unit/conftest.py`` fails any core test in which a checker module that the worker
  loads imports a standard-library module that the list does not have.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, NamedTuple

from sphinx_access_checker import pycompile, wheel
from sphinx_access_checker.trace_in_pyodide import ORIGINS, PHASES, Row

HERE: Final = Path(__file__).resolve().parent
LIST_FILE: Final = HERE / "stdlib-modules.txt"
RUNNER: Final = HERE / "stdlib_trace.mjs"
SCRIPT: Final = HERE / "trace_in_pyodide.py"
PINS: Final = HERE / "pyodide-sha256.json"
ENTRY: Final = "access_checker.web.session"  # what the worker imports (static/worker.mjs)
REFRESH: Final = ".venv/bin/python -m sphinx_access_checker.stdlib_trim --write"
TIMEOUT_SECONDS: Final = 300
_EPOCH: Final = (1980, 1, 1, 0, 0, 0)
_UNIX: Final = 3

HEADER: Final = f"""\
# The Python modules the access checker's Web Worker loads, traced under Pyodide.
#
# With access_checker_trim_stdlib on (the default), the build ships only the rows whose origin
# is "zip" (compiled, from python_stdlib.zip), in a zip stored without compression. Built-in and
# frozen modules are part of the interpreter; "wheel" rows are the checker's own modules, and
# tests/unit/conftest.py fails a test in which one of them imports a standard-library module
# that is not listed here.
#
# Generated: do not edit. Refresh it with
#   {REFRESH}
# which boots Pyodide under Node with the worker's loadPyodide options (stdlib_trace.mjs),
# imports {ENTRY} from the site's wheel, starts a session, calls
# code_origin() and sends every kind of message the page sends (show signed out, signed in
# with realm roles and entitlements, and with an expired token; input, blur, submit invalid
# and valid, discard, forget; two it must refuse), then imports each module of the encodings
# package, which is kept whole. The phase says when a module was first loaded: boot (Pyodide's
# own start-up, before the worker's code), import (importing the checker), session (running
# it), encodings (the rest of that package). tests/site/test_stdlib_trim.py fails when this
# file differs from a fresh trace.
#
"""


class TrimError(Exception):
    """The trimmed stdlib cannot be made; the message is one line saying what to do."""


class TraceError(Exception):
    """The trace failed or did not go as the page would; the message says where."""


# ---- the list -------------------------------------------------------------------------------
def parse_list(text: str) -> list[Row]:
    rows: list[Row] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3 or parts[1] not in ORIGINS or parts[2] not in PHASES:
            raise TrimError(f"{LIST_FILE.name} line {number}: expected 'module origin phase', got {line!r}; "
                            f"regenerate it with `{REFRESH}`.")
        rows.append({"name": parts[0], "origin": parts[1], "phase": parts[2]})
    return rows


def render_list(rows: Sequence[Row]) -> str:
    width = max(40, *(len(r["name"]) + 2 for r in rows))
    lines = [f"{'# module':<{width}}{'origin':<12}phase"]
    lines += [f"{r['name']:<{width}}{r['origin']:<12}{r['phase']}" for r in sorted(rows, key=lambda r: r["name"])]
    return HEADER + "\n".join(lines) + "\n"


def shipped(rows: Sequence[Row]) -> list[str]:
    """The modules the trimmed zip holds: those the interpreter loads from the stdlib zip."""
    return sorted(r["name"] for r in rows if r["origin"] == "zip")


def _member(module: str, names: set[str]) -> str | None:
    """The zip member of a module: compiled or source, plain module or package."""
    base = module.replace(".", "/")
    for candidate in (f"{base}.pyc", f"{base}/__init__.pyc", f"{base}.py", f"{base}/__init__.py"):
        if candidate in names:
            return candidate
    return None


# ---- the trimmed zip ------------------------------------------------------------------------
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def trim(source: Path, cache_dir: Path, *, source_sha256: str | None = None, list_file: Path = LIST_FILE) -> Path:
    """The trimmed stdlib zip made from ``source`` (cached in ``cache_dir``).

    ``source`` is the compile step's zip, whose file name carries its content key, or, with
    ``source_sha256`` (its pinned digest), the npm zip, checked against that digest here.
    Raises :class:`TrimError` when a listed module is not in ``source``.
    """
    listed = list_file.read_text(encoding="utf-8")
    modules = shipped(parse_list(listed))
    key = _sha256("\0".join(["trim", source_sha256 or source.name, listed, _sha256(Path(__file__).read_bytes())]).encode())
    entry = cache_dir / f"stdlib-trimmed-{key[:16]}.zip"
    if entry.is_file():
        return entry
    if source_sha256 is not None and _sha256(source.read_bytes()) != source_sha256:
        raise TrimError(f"{source} does not match its pinned SHA-256 (pyodide-sha256.json): reinstall with `npm ci`.")
    with zipfile.ZipFile(source) as archive:
        names = set(archive.namelist())
        members = {name: member for name in modules if (member := _member(name, names)) is not None}
        missing = sorted(set(modules) - set(members))
        if missing:
            raise TrimError(f"{len(missing)} module(s) of {list_file.name} are not in {source.name} "
                            f"({', '.join(missing[:5])}{', …' if len(missing) > 5 else ''}): refresh the list "
                            f"with `{REFRESH}`, or set access_checker_trim_stdlib = False.")
        data = {member: archive.read(member) for member in members.values()}
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Written beside the entry, then renamed: a build killed midway leaves no half entry.
    with (tempfile.NamedTemporaryFile(dir=cache_dir, prefix=".trim-", suffix=".zip", delete=False) as tmp,
          zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as out):
        for member in sorted(data):
            info = zipfile.ZipInfo(member, date_time=_EPOCH)
            info.create_system = _UNIX  # the mode below is a Unix mode, whatever the host
            info.external_attr = 0o644 << 16
            out.writestr(info, data[member])
    Path(tmp.name).replace(entry)
    for old in cache_dir.glob("stdlib-trimmed-*.zip"):
        if old != entry:
            old.unlink(missing_ok=True)
    return entry


# ---- the trace ------------------------------------------------------------------------------
class Step(NamedTuple):
    message: dict[str, Any]
    expect: str
    """The reply's ``announce`` starts with this; ``""``: a reply without one; ``crash:`` + text:
    Python raised, with this text in the message (what the worker posts as "crashed")."""


_FORM = {
    "name": "Marta Ruiz", "email": "marta.ruiz@example.org", "institution": "IFCA",
    "why": "We segment plankton images and need GPUs for training.",
    "planned_use": "Train a U-Net on 40k images and deploy it as a service.",
    "resources.gpus": "1", "resources.storage_gb": "200", "duration_months": "6", "heard_from": "A colleague",
    "projects": ["ai4life"], "features": ["train"], "accepted_aup": True,
}
# Realm roles and EGI entitlements as the providers send them (tests/unit), with values the
# checker must ignore and show escaped: another VO's role, a non-string, a hidden direction
# mark, an overlong entitlement.
_MEMBER = {
    "sub": "1234@egi.eu", "name": "Marta Ruiz", "email": "marta@example.org", "iss": "https://aai.egi.eu/auth/realms/egi",
    "realm_access": {"roles": ["default-roles-ai4eosc", "offline_access", "access:vo.ai4eosc.eu:ap-u",
                               "access:vo.other.eu:ap-u", "access:vo.ai4eosc.eu:\u202eap-d", 42]},
    "eduperson_entitlement": ["urn:mace:egi.eu:group:vo.imagine-ai.eu:role=member#aai.egi.eu",
                              "urn:mace:egi.eu:vo.ai4life.eu", "urn:mace:egi.eu:group:" + "x" * 300],
}
_FULL = {"sub": "full-1", "realm_access": {"roles": ["access:vo.ai4eosc.eu:ap-d", "platform-access:vo.ai4life.eu"]},
         "eduperson_entitlement": ["urn:mace:egi.eu:group:vo.imagine-ai.eu#aai.egi.eu"]}


def steps(now: float) -> list[Step]:
    """Every kind of message the page sends (widget.mjs), in an order a reader could produce."""
    script = [
        Step({"type": "show", "claims": None, "expires": 0, "drafts": {}}, "The checker is ready."),
        Step({"type": "input", "values": {"email": "x"}}, ""),
        Step({"type": "blur", "name": "email", "values": {"email": "x"}}, ""),
        Step({"type": "input", "values": {"email": "a@example.org"}}, ""),
        Step({"type": "submit", "values": {"email": "x"}}, "12 fields need attention"),
        Step({"type": "submit", "values": _FORM}, "Your request is ready to send."),
        Step({"type": "action", "action": "discard"}, "The draft is discarded."),
        Step({"type": "show", "claims": _MEMBER, "expires": now + 3600,
              "drafts": {"1234@egi.eu": {"id": "m-1", "fields": {"why": "kept", "projects": ["ai4life"], "bad": {"x": 1}}},
                         "anonymous": {"id": "a-1", "fields": {"why": "not this one"}}}},
             "Your access level is shown below."),
        Step({"type": "blur", "name": "why", "values": {"why": ""}}, ""),
        Step({"type": "submit", "values": {**_FORM, "why": ""}}, "1 field needs attention"),
        Step({"type": "submit", "values": _FORM}, "Your request is ready to send."),
        Step({"type": "input", "values": {**_FORM, "name": "Marta R."}}, ""),
        Step({"type": "action", "action": "forget"}, "Your data is removed from this browser."),
        Step({"type": "show", "claims": _MEMBER, "expires": 1, "drafts": {}}, "Your access level is shown below."),
        Step({"type": "show", "claims": _FULL, "expires": now + 3600, "drafts": {}}, "Your access level is shown below."),
        Step({"type": "input", "values": {}}, ""),
        Step({"type": "explode"}, "crash:unknown message"),
    ]
    messages = [Step({"v": 1, "id": n, **step.message}, step.expect) for n, step in enumerate(script, 1)]
    return [*messages, Step({"v": 2, "id": len(messages) + 1, "type": "show"}, "crash:protocol version")]


class Trace(NamedTuple):
    rows: list[Row]
    replies: list[dict[str, Any]]
    code_origin: str


def _lock(pyodide: Path) -> str:
    """The lock file's contents as the page hands them to Pyodide (assets.stage): no packages."""
    info = json.loads((pyodide / "pyodide-lock.json").read_text(encoding="utf-8"))["info"]
    return json.dumps({"info": info, "packages": {}}, sort_keys=True, separators=(",", ":"))


def _check_replies(script: Sequence[Step], replies: Sequence[dict[str, Any]]) -> None:
    if len(replies) != len(script):
        raise TraceError(f"{len(replies)} replies to {len(script)} messages")
    for step, got in zip(script, replies, strict=True):
        what = f"message {step.message['id']} ({step.message.get('type')})"
        if step.expect.startswith("crash:"):
            if step.expect[len("crash:"):] not in got.get("crashed", ""):
                raise TraceError(f"{what}: expected Python to refuse it ({step.expect}), got {json.dumps(got)[:300]}")
            continue
        if "crashed" in got:
            lines = got["crashed"].strip().splitlines()
            # The exception's line, and the notes Pyodide adds after some (ModuleNotFoundError).
            at = max((i for i, line in enumerate(lines) if re.match(r"[A-Za-z_][\w.]*: ", line)), default=len(lines) - 1)
            raise TraceError(f"{what} crashed: {' '.join(lines[at:])}")
        announce = got["reply"].get("announce") or ""
        if not announce.startswith(step.expect) or (not step.expect and announce):
            raise TraceError(f"{what}: expected the announcement {step.expect!r}, got {announce!r}")


def run_trace(node_modules: Path, stdlib_zip: Path, wheel_path: Path, policy: Path) -> Trace:
    """Boot Pyodide on ``stdlib_zip`` as the worker does and play the page's messages to it."""
    pyodide = node_modules / "pyodide"
    try:
        node = pycompile._node(node_modules)
    except pycompile.CompileError as exc:
        raise TraceError(str(exc)) from None
    script = steps(time.time())
    job = {"pyodide": str(pyodide), "stdlib": str(stdlib_zip), "lock": _lock(pyodide), "wheel": str(wheel_path),
           "policy": str(policy), "script": str(SCRIPT), "entry": ENTRY,
           "settings": {"root": "../", "pagePattern": "PAGE.html", "levelAnchors": "{}", "draftDays": 30},
           "messages": [s.message for s in script]}
    with tempfile.TemporaryDirectory(prefix="stdlib-trace-") as tmp:
        job_file, report_file = Path(tmp) / "job.json", Path(tmp) / "report.json"
        job_file.write_text(json.dumps({**job, "report": str(report_file)}))
        try:
            done = subprocess.run([node, str(RUNNER), str(job_file)], capture_output=True, text=True,
                                  timeout=TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            raise TraceError(f"the trace took over {TIMEOUT_SECONDS} s and was stopped") from None
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            raise TraceError((lines or [f"{RUNNER.name} exited {done.returncode}"])[-1])
        report = json.loads(report_file.read_text())
    _check_replies(script, report["replies"])
    return Trace(report["rows"], report["replies"], report["codeOrigin"])


def trace_site(node_modules: Path, cache_dir: Path) -> tuple[Trace, Path]:
    """The trace on the full compiled stdlib and the wheel the build ships (compiled by the
    compile step, cached in ``cache_dir``); also returns that stdlib zip."""
    import access_checker

    package_dir = Path(access_checker.__file__).resolve().parent
    pins = json.loads(PINS.read_text())
    try:
        compiled = pycompile.compile_all(node_modules, cache_dir, package_dir, stdlib_sha256=pins["files"]["python_stdlib.zip"])
    except pycompile.CompileError as exc:
        raise TraceError(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="stdlib-trace-wheel-") as tmp:
        version = access_checker.__version__
        wheel_path = wheel.build_wheel(package_dir, version, Path(tmp) / wheel.wheel_name(version), extra_files=compiled.package)
        return run_trace(node_modules, compiled.stdlib, wheel_path, package_dir / "policies" / "ai4os.toml"), compiled.stdlib


# ---- the command line -----------------------------------------------------------------------
def summary(rows: Sequence[Row], stdlib_zip: Path, top: int = 10) -> str:
    """Counts per origin and phase, and what the shipped modules weigh in ``stdlib_zip``."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[f"{row['origin']}/{row['phase']}"] = counts.get(f"{row['origin']}/{row['phase']}", 0) + 1
    with zipfile.ZipFile(stdlib_zip) as archive:
        names = set(archive.namelist())
        sizes = sorted(((archive.getinfo(m).file_size, r) for r in rows if r["origin"] == "zip"
                        and (m := _member(r["name"], names))), key=lambda item: (-item[0], item[1]["name"]))
        everything = sum(i.file_size for i in archive.infolist())
    lines = [", ".join(f"{k}: {v}" for k, v in sorted(counts.items())),
             f"shipped: {len(sizes)} modules, {sum(s for s, _ in sizes):,} bytes of {everything:,} uncompressed; "
             f"largest {top}:"]
    lines += [f"  {size:>9,}  {row['name']} ({row['phase']})" for size, row in sizes[:top]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Trace the modules the checker's worker loads under Pyodide and "
                                                 f"compare them with {LIST_FILE.name} (or write it).")
    parser.add_argument("--write", action="store_true", help=f"write {LIST_FILE.name} from the trace")
    parser.add_argument("--node-modules", type=Path, default=Path("node_modules"), help="default: ./node_modules")
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache/access-checker/pyc"),
                        help="the compile step's cache (default: the site build's, .cache/access-checker/pyc)")
    args = parser.parse_args(argv)
    try:
        trace, stdlib_zip = trace_site(args.node_modules.resolve(), args.cache_dir.resolve())
    except TraceError as exc:
        print(f"stdlib_trim: the trace failed: {exc}", file=sys.stderr)
        return 1
    text = render_list(trace.rows)
    old = LIST_FILE.read_text(encoding="utf-8") if LIST_FILE.is_file() else ""
    print(summary(trace.rows, stdlib_zip))
    diff = list(difflib.unified_diff(old.splitlines(), text.splitlines(), LIST_FILE.name, "trace", lineterm="", n=0))
    if args.write:
        LIST_FILE.write_text(text, encoding="utf-8")
        print(f"wrote {LIST_FILE}" + (":\n" + "\n".join(diff) if diff else " (unchanged)"))
        return 0
    if diff:
        print("\n".join(diff))
        print(f"{LIST_FILE.name} differs from the trace: run `{REFRESH}`.", file=sys.stderr)
        return 1
    print(f"{LIST_FILE.name} matches the trace.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
