#!/usr/bin/env node
// Calls per second of the checker's core inside Pyodide under Node (bench/core.py runs it).
//
//   node bench/core_pyodide.mjs --repeats 9
//
// Boots Pyodide from <repo>/node_modules/pyodide, mounts checker/core at its own path
// (read-only use: bytecode writing is off), copies bench/core_timing.py into Pyodide's memory
// and prints the JSON that core_timing.measure returns, as one line.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..");
const PYODIDE = path.join(REPO, "node_modules", "pyodide");
const CORE = path.join(REPO, "checker", "core");
const ACCOUNTS = path.join(REPO, "dev", "idp", "accounts.json");

const index = process.argv.indexOf("--repeats");
const repeats = index > 0 ? Number(process.argv[index + 1]) : 9;
if (!Number.isInteger(repeats) || repeats < 1) {
  process.stderr.write("core_pyodide.mjs: --repeats needs a positive integer\n");
  process.exit(2);
}

const { loadPyodide } = await import(pathToFileURL(path.join(PYODIDE, "pyodide.mjs")).href);
const started = performance.now();
const pyodide = await loadPyodide({ indexURL: PYODIDE + path.sep, env: { PYTHONDONTWRITEBYTECODE: "1" } });
const bootMs = performance.now() - started;
pyodide.mountNodeFS(CORE, CORE);
pyodide.FS.mkdirTree("/bench");
pyodide.FS.writeFile("/bench/core_timing.py", fs.readFileSync(path.join(HERE, "core_timing.py")));
pyodide.globals.set("core_path", CORE);
pyodide.globals.set("accounts_json", fs.readFileSync(ACCOUNTS, "utf8"));
pyodide.globals.set("repeats", repeats);
const result = pyodide.runPython(`
import sys
sys.dont_write_bytecode = True
sys.path[:0] = [core_path, "/bench"]
import core_timing
core_timing.measure(accounts_json, repeats)
`);
const out = JSON.parse(result);
out.python = pyodide.runPython("import sys; sys.version.split()[0]");
out.boot_ms = bootMs;
process.stdout.write(JSON.stringify(out) + "\n");
