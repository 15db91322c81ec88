"""Core throughput: ``evaluate()`` and ``validate_form()`` calls per second, on CPython (in
this process, :mod:`timeit`) and inside Pyodide under Node (``core_pyodide.mjs``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import core_timing
from bench.common import REPO, BenchError, log

NODE_TIMEOUT = 300


def run(repeats: int) -> dict[str, Any]:
    accounts = (REPO / "dev" / "idp" / "accounts.json").read_text()
    cpython: dict[str, Any] = json.loads(core_timing.measure(accounts, repeats))
    cpython["python"] = sys.version.split()[0]
    log(f"core CPython: evaluate {cpython['evaluate']['median']:,.0f}/s, validate_form {cpython['validate_form']['median']:,.0f}/s")

    node = shutil.which("node")
    if node is None:
        raise BenchError("node is not on PATH: Node 20+ is needed for the Pyodide core benchmark")
    script = Path(__file__).resolve().parent / "core_pyodide.mjs"
    try:
        done = subprocess.run([node, str(script), "--repeats", str(repeats)], capture_output=True, text=True,
                              timeout=NODE_TIMEOUT, check=False, cwd=REPO)
    except subprocess.TimeoutExpired:
        raise BenchError(f"the Pyodide core benchmark took over {NODE_TIMEOUT} s") from None
    if done.returncode != 0:
        raise BenchError(f"core_pyodide.mjs failed (exit {done.returncode}): {done.stderr[-2000:]}")
    pyodide: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    log(f"core Pyodide: evaluate {pyodide['evaluate']['median']:,.0f}/s, validate_form {pyodide['validate_form']['median']:,.0f}/s")
    return {"cpython": cpython, "pyodide": pyodide}
