"""Run the checker core's unit tests inside Pyodide (CPython on WebAssembly) under Node.

This test runs on CPython as part of the main suite; it shells out to
tests/pyodide/run.mjs, which boots Pyodide, installs the pure-Python wheels
from .cache/pyodide-wheels, and runs pytest on tests/unit with checker/core on
sys.path. Tests marked ``cpython_only`` are deselected there.

Select it alone with ``pytest -m pyodide``; leave it out with ``-m "not pyodide"``.
It fails (it does not skip) when node, node_modules/pyodide or the wheels are
missing: run ``make setup`` first.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNNER = REPO_ROOT / "tests" / "pyodide" / "run.mjs"
WHEELS_DIR = REPO_ROOT / ".cache" / "pyodide-wheels"
PYODIDE_MJS = REPO_ROOT / "node_modules" / "pyodide" / "pyodide.mjs"
CORE_SRC = REPO_ROOT / "checker" / "core"
CORE_TESTS = REPO_ROOT / "tests" / "unit"

# Boot (~2 s) + wheel install + pytest on wasm (several times slower than CPython).
TIMEOUT_SECONDS = 900

# pytest's final line, e.g. "===== 12 passed, 3 deselected in 4.20s =====" or
# "=== 1 failed, 11 passed in 65.00s (0:01:05) ===".
SUMMARY_RE = re.compile(r"^=*\s*(?P<body>\d+ \w+.*?) in [\d.]+s(?: \([\d:]+\))?\s*=*$")

pytestmark = pytest.mark.pyodide


def _missing_setup() -> list[str]:
    missing = []
    if shutil.which("node") is None:
        missing.append("node is not on PATH")
    if not PYODIDE_MJS.is_file():
        missing.append(f"{PYODIDE_MJS.relative_to(REPO_ROOT)} is missing (npm package pyodide)")
    if not WHEELS_DIR.is_dir() or not any(WHEELS_DIR.glob("*.whl")):
        missing.append(f"no wheels in {WHEELS_DIR.relative_to(REPO_ROOT)}")
    return missing


def parse_summary(output: str) -> tuple[str, dict[str, int]]:
    """Return pytest's last summary line and its counts ({"passed": 3, ...})."""
    for line in reversed(output.splitlines()):
        match = SUMMARY_RE.match(line.strip())
        if match:
            counts: dict[str, int] = {}
            for number, word in re.findall(r"(\d+) (\w+)", match["body"]):
                word = {"errors": "error", "warnings": "warning"}.get(word, word)
                counts[word] = counts.get(word, 0) + int(number)
            return line.strip(), counts
    return "", {}


def run_in_pyodide(src: Path, tests: Path, *pytest_args: str) -> subprocess.CompletedProcess[str]:
    """Run the runner on one source dir and one tests path; fail clearly if set-up is missing."""
    missing = _missing_setup()
    if missing:
        pytest.fail("Pyodide test set-up missing: " + "; ".join(missing) + ". Run `make setup` first.", pytrace=False)
    for what, path in (("source dir", src), ("tests", tests)):
        if not path.exists():
            pytest.fail(f"{what} {path} does not exist", pytrace=False)
    cmd = [
        shutil.which("node") or "node",
        str(RUNNER),
        "--wheels", str(WHEELS_DIR),
        "--src", str(src),
        "--tests", str(tests),
    ]
    if pytest_args:
        cmd += ["--", *pytest_args]
    try:
        return subprocess.run(
            cmd,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode(errors="replace")
        pytest.fail(f"Pyodide run did not finish in {TIMEOUT_SECONDS} s; output so far:\n{out[-4000:]}", pytrace=False)


def assert_pyodide_run_passed(proc: subprocess.CompletedProcess[str]) -> None:
    output = proc.stdout
    print(output)  # shown by pytest on failure (and with -rP / -s)
    summary, counts = parse_summary(output)
    deselected_note = next((line for line in output.splitlines() if "CPython-only test" in line), "")
    print(f"Pyodide summary: {summary or '(no pytest summary line)'}")
    if deselected_note:
        print(deselected_note)
    tail = "\n".join(output.splitlines()[-40:])
    meaning = {1: "tests failed", 2: "interrupted", 3: "internal error", 4: "usage error", 5: "no tests collected"}
    assert proc.returncode == 0, (
        f"runner exited {proc.returncode} ({meaning.get(proc.returncode, 'see output')}); "
        f"summary: {summary!r}\n{tail}"
    )
    assert summary, f"no pytest summary line in the runner's output\n{tail}"
    assert counts.get("failed", 0) == 0 and counts.get("error", 0) == 0, summary
    assert counts.get("passed", 0) >= 1, f"no test passed in Pyodide: {summary}"


def test_core_unit_tests_pass_in_pyodide() -> None:
    assert_pyodide_run_passed(run_in_pyodide(CORE_SRC, CORE_TESTS))
