"""Test helpers that ask the installed Pyodide directly, without the extension's compile step."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path

import pytest

# Boots Pyodide and prints importlib.util.MAGIC_NUMBER (hex): the magic number every pyc the
# compile step writes must carry, found here without the compile step's own code.
_MAGIC_PROBE = """
import path from "node:path";
import { pathToFileURL } from "node:url";
const dir = %s;
const { loadPyodide } = await import(pathToFileURL(path.join(dir, "pyodide.mjs")).href);
const pyodide = await loadPyodide({ indexURL: dir + path.sep, stdout: () => {}, stderr: () => {} });
process.stdout.write(pyodide.runPython("import importlib.util; importlib.util.MAGIC_NUMBER.hex()") + "\\n");
"""


def require_node(node_modules: Path) -> str:
    """The node executable; fails the test (it does not skip) when the set-up is missing."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: install Node and run `make setup` first.", pytrace=False)
    if not (node_modules / "pyodide" / "pyodide.mjs").is_file():
        pytest.fail(f"{node_modules / 'pyodide'} is missing: run `make setup` (npm ci) first.", pytrace=False)
    return node


@functools.cache
def pyodide_magic(node_modules: Path) -> bytes:
    """``importlib.util.MAGIC_NUMBER`` inside the installed Pyodide (one boot, ≈2.5 s, once per session)."""
    node = require_node(node_modules)
    script = _MAGIC_PROBE % json.dumps(str(node_modules / "pyodide"))
    done = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return bytes.fromhex(done.stdout.strip().splitlines()[-1])
