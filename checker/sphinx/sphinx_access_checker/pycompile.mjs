#!/usr/bin/env node
// Runs one Python file with Pyodide's own interpreter, under Node:
//
//   node pycompile.mjs [--no-debug-ranges] PYODIDE_DIR SCRIPT WORK_DIR
//
// --no-debug-ranges starts Python with PYTHONNODEBUGRANGES: code objects it compiles carry no
// column positions (compile_in_pyodide.py: debug_ranges, and why the stdlib is compiled so).
// pycompile.py starts it with SCRIPT = compile_in_pyodide.py (the compile job; see there
// for what it does and why it must run in Pyodide). WORK_DIR, a host folder with the job's
// inputs, is mounted inside Pyodide at /work; SCRIPT runs as __main__ with
// sys.argv = [SCRIPT, "/work"] and writes its outputs there, straight into the host folder.
//
// Exit status 0 when SCRIPT finished; otherwise one line "pycompile.mjs: ..." on stderr (the
// Python exception, when SCRIPT raised one) and 1, or 2 for a usage error.

import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const ME = "pycompile.mjs";
const MOUNT = "/work";

function fail(message, code = 1) {
  process.stderr.write(`${ME}: ${String(message).replace(/\s*\n\s*/g, " | ")}\n`);
  process.exit(code);
}

async function main() {
  const args = process.argv.slice(2);
  const noDebugRanges = args[0] === "--no-debug-ranges";
  if (noDebugRanges) args.shift();
  if (args.length !== 3) fail(`usage: node ${ME} [--no-debug-ranges] PYODIDE_DIR SCRIPT WORK_DIR`, 2);
  const [pyodideDir, script, workDir] = args.map((arg) => path.resolve(arg));
  const entry = path.join(pyodideDir, "pyodide.mjs");
  if (!fs.existsSync(entry)) fail(`${entry} is missing: install the npm package pyodide first (npm ci)`);
  const source = fs.readFileSync(script, "utf8");

  const { loadPyodide } = await import(pathToFileURL(entry).href);
  // Pyodide's own output goes to stderr, where pycompile.py looks for a failure's reason.
  const toStderr = (line) => process.stderr.write(line + "\n");
  const pyodide = await loadPyodide({
    indexURL: pyodideDir + path.sep,
    // A fixed hash seed: set and frozenset constants are marshalled in hash order, so a
    // random seed would give other pyc bytes on every run.
    env: {
      HOME: "/home/pyodide", PYTHONDONTWRITEBYTECODE: "1", PYTHONHASHSEED: "0",
      ...(noDebugRanges ? { PYTHONNODEBUGRANGES: "1" } : {}),
    },
    stdout: toStderr,
    stderr: toStderr,
  });
  pyodide.mountNodeFS(MOUNT, workDir);
  pyodide.runPython(`import sys; sys.argv = ${JSON.stringify([script, MOUNT])}`);
  try {
    // With a file name, Pyodide's tracebacks show the lines of SCRIPT.
    pyodide.runPython(source, { filename: script });
  } catch (e) {
    // A PythonError's message is the whole traceback: its last line is the exception.
    const lines = String(e?.message ?? e).trim().split("\n");
    fail(lines[lines.length - 1]);
  }
}

try {
  await main();
  process.exit(0);
} catch (e) {
  fail(e?.message ?? e);
}
