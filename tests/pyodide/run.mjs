#!/usr/bin/env node
// Run a pure-Python package's pytest suite inside Pyodide (CPython compiled to
// WebAssembly) under Node, without a browser.
//
//   node tests/pyodide/run.mjs --wheels .cache/pyodide-wheels \
//        --src checker/core --tests tests/unit [-- extra pytest args]
//
// Relative paths are resolved against the repository root (two directories up
// from this file), so the script works from any cwd. --src and --tests may be
// given more than once; --tests may also name a single test file.
//
// What it does:
//   1. boots Pyodide from <repo>/node_modules/pyodide;
//   2. installs every *.whl in --wheels with pyodide.loadPackage(<abs path>)
//      (pure py3-none-any wheels; see tests/pyodide/requirements.txt);
//   3. mounts each --src and --tests directory into the Pyodide file system
//      with NODEFS at the SAME absolute path it has on the host, so tracebacks,
//      node ids and conftest.py discovery look exactly as on CPython; pytest
//      config files (pytest.toml, pytest.ini, pyproject.toml, tox.ini,
//      setup.cfg) between the repo root and a tests dir are copied in, so the
//      same rootdir/inifile is used; parent-directory conftest.py files are not;
//   4. puts every --src dir on sys.path and runs
//      pytest.main([...tests, "-p", "no:cacheprovider", "-m", "not cpython_only",
//                   "--hypothesis-profile=pyodide", ...extra]);
//   5. prints how many `cpython_only` tests were deselected, and exits with
//      pytest's exit code.
//
// Nothing is written to the host: bytecode writing is off, the cache provider
// is off, the Python cwd is the repo-root path in Pyodide's in-memory FS (only
// the mount points live there), and Hypothesis' storage directory (example
// database, constants cache, charmap) is in memory under /pyodide-runner.
// Hypothesis runs under the profile "pyodide" (database=None, deadline=None,
// HealthCheck.too_slow suppressed); a profile of that name registered by the
// suite's conftest.py replaces this one. HYPOTHESIS_PROFILE=pyodide is set in
// the Python environment for conftests that load the profile named there.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const SCRIPT_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(SCRIPT_DIR, "..", "..");
const PYODIDE_DIR = path.join(REPO_ROOT, "node_modules", "pyodide");
const ME = "tests/pyodide/run.mjs";
// In-memory scratch space inside Pyodide, outside any path a caller could mount.
const SCRATCH = "/pyodide-runner";
const CONFIG_FILES = ["pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"];

function die(msg, code = 2) {
  process.stderr.write(`${ME}: ${msg}\n`);
  process.exit(code);
}

function usage() {
  return `usage: node ${ME} --wheels DIR --src DIR [--src DIR ...] --tests PATH [--tests PATH ...] [-- pytest args]`;
}

function parseArgs(argv) {
  const opts = { wheels: null, src: [], tests: [], extra: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      opts.extra = argv.slice(i + 1);
      break;
    }
    const m = /^--(wheels|src|tests)(?:=(.*))?$/.exec(a);
    if (!m) die(`unknown argument ${JSON.stringify(a)}\n${usage()}`);
    const value = m[2] !== undefined ? m[2] : argv[++i];
    if (value === undefined || value === "") die(`--${m[1]} needs a value\n${usage()}`);
    if (m[1] === "wheels") opts.wheels = value;
    else opts[m[1]].push(value);
  }
  if (!opts.wheels || opts.src.length === 0 || opts.tests.length === 0) die(usage());
  return opts;
}

const isInside = (child, parent) => {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
};

// Write straight to the host fd, synchronously, so pytest's output streams as
// it is produced even though pytest.main() blocks the JS event loop.
function fdWriter(fd) {
  return {
    isatty: false,
    write(buf) {
      let off = 0;
      while (off < buf.length) {
        try {
          off += fs.writeSync(fd, buf, off, buf.length - off);
        } catch (e) {
          if (e.code !== "EAGAIN") throw e;
        }
      }
      return buf.length;
    },
  };
}

// If the caller passed its own -m, fold "not cpython_only" into it instead of
// letting pytest's last -m silently win.
function markExpression(extra) {
  let userExpr = null;
  const rest = [];
  for (let i = 0; i < extra.length; i++) {
    if (extra[i] === "-m" && i + 1 < extra.length) {
      userExpr = extra[++i];
    } else if (extra[i].startsWith("-m") && extra[i].length > 2 && !extra[i].startsWith("--")) {
      userExpr = extra[i].slice(2).replace(/^=/, "");
    } else {
      rest.push(extra[i]);
    }
  }
  const expr = userExpr ? `(${userExpr}) and not cpython_only` : "not cpython_only";
  return { expr, rest };
}

// Imported by pytest via "-p _pyodide_runner_plugin": after pytest has marked
// plugin modules for assertion rewriting (so importing hypothesis here does
// not trigger PytestAssertRewriteWarning) and before the initial conftest.py
// files are imported (so a conftest can load or replace the "pyodide" profile).
const PY_PLUGIN = String.raw`
"""pytest plugin injected by tests/pyodide/run.mjs (lives in Pyodide's memory FS)."""
from hypothesis import HealthCheck, settings

# Default Pyodide profile. A conftest.py that registers "pyodide" itself
# replaces it; --hypothesis-profile=pyodide loads it in pytest_configure.
settings.register_profile(
    "pyodide",
    database=None,  # nothing written for the example database
    deadline=None,  # wasm is slower and jittery; no deadline flakiness
    suppress_health_check=[HealthCheck.too_slow],
)

deselected_cpython_only = 0


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "cpython_only: needs compiled packages; deselected when run in Pyodide",
    )


def pytest_deselected(items):
    global deselected_cpython_only
    deselected_cpython_only += sum(
        1 for item in items if item.get_closest_marker("cpython_only") is not None
    )
`;

const PY_MAIN = String.raw`
import json, os, sys
sys.dont_write_bytecode = True
_cfg = json.loads(_runner_cfg_json)
sys.path.insert(0, _cfg["plugin_dir"])
for _p in reversed(_cfg["src"]):
    sys.path.insert(0, _p)
os.makedirs(_cfg["cwd"], exist_ok=True)
os.chdir(_cfg["cwd"])

import pytest

_runner_exit = int(pytest.main(_cfg["args"]))
sys.stdout.flush()
sys.stderr.flush()
_plugin = sys.modules.get("_pyodide_runner_plugin")
(_runner_exit, getattr(_plugin, "deselected_cpython_only", 0))
`;

// PYODIDE_RUNNER_TIMING=1 prints phase timings to stderr.
const T0 = performance.now();
const timing = (what) => {
  if (process.env.PYODIDE_RUNNER_TIMING) {
    process.stderr.write(`${ME}: ${what} at ${((performance.now() - T0) / 1000).toFixed(2)} s\n`);
  }
};

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const resolve = (p) => path.resolve(REPO_ROOT, p);

  const wheelsDir = resolve(opts.wheels);
  const wheels = fs.existsSync(wheelsDir) && fs.statSync(wheelsDir).isDirectory()
    ? fs.readdirSync(wheelsDir).filter((f) => f.endsWith(".whl")).sort().map((f) => path.join(wheelsDir, f))
    : [];
  if (wheels.length === 0) {
    die(`no wheels in ${wheelsDir} (missing or empty): run \`make setup\` first`);
  }
  if (!fs.existsSync(path.join(PYODIDE_DIR, "pyodide.mjs"))) {
    die(`Pyodide not found at ${PYODIDE_DIR}: run \`make setup\` first`);
  }

  const srcDirs = opts.src.map(resolve);
  for (const d of srcDirs) {
    if (!fs.existsSync(d) || !fs.statSync(d).isDirectory()) die(`--src ${d} is not a directory`);
  }
  const testPaths = opts.tests.map(resolve);
  for (const t of testPaths) {
    if (!fs.existsSync(t)) die(`--tests ${t} does not exist`);
  }

  // Host directories to mount at identical paths; drop any nested inside another.
  const wanted = [...srcDirs, ...testPaths.map((t) => (fs.statSync(t).isDirectory() ? t : path.dirname(t)))];
  const mounts = [...new Set(wanted)]
    .sort((a, b) => a.length - b.length)
    .filter((d, i, all) => !all.slice(0, i).some((outer) => isInside(d, outer)));
  for (const d of mounts) {
    if (isInside(REPO_ROOT, d)) die(`refusing to mount ${d}: it contains the repository root`);
  }

  const { expr, rest } = markExpression(opts.extra);
  const pytestArgs = [
    ...testPaths,
    "-p", "no:cacheprovider",
    "-p", "_pyodide_runner_plugin",
    "-m", expr,
    "--hypothesis-profile=pyodide",
    ...rest,
  ];

  const { loadPyodide } = await import(pathToFileURL(path.join(PYODIDE_DIR, "pyodide.mjs")).href);
  const stdout = fdWriter(1);
  const stderr = fdWriter(2);
  const pyodide = await loadPyodide({
    indexURL: PYODIDE_DIR + path.sep,
    env: {
      HOME: "/home/pyodide",
      PYTHONDONTWRITEBYTECODE: "1",
      ...(process.env.PYTHONHASHSEED ? { PYTHONHASHSEED: process.env.PYTHONHASHSEED } : {}),
      HYPOTHESIS_PROFILE: "pyodide",
      HYPOTHESIS_STORAGE_DIRECTORY: `${SCRATCH}/hypothesis`,
      ...(process.env.COLUMNS ? { COLUMNS: process.env.COLUMNS } : {}),
      ...(process.env.NO_COLOR ? { NO_COLOR: process.env.NO_COLOR } : {}),
      ...(process.env.PY_COLORS ? { PY_COLORS: process.env.PY_COLORS } : {}),
    },
    stdout: (line) => process.stdout.write(line + "\n"),
    stderr: (line) => process.stderr.write(line + "\n"),
  });
  timing("Pyodide booted");
  pyodide.setStdout(stdout);
  pyodide.setStderr(stderr);
  pyodide.setStdin({ error: true }); // no interactive input

  await pyodide.loadPackage(wheels, {
    messageCallback: () => {},
    errorCallback: (m) => process.stderr.write(`${ME}: ${m}\n`),
  });

  timing(`${wheels.length} wheels installed`);
  for (const d of mounts) pyodide.mountNodeFS(d, d);

  // Mirror pytest config files from the repo root down to each in-repo tests
  // dir (read-only snapshot in memory), so rootdir/inifile match CPython.
  for (const t of testPaths) {
    const dir = fs.statSync(t).isDirectory() ? t : path.dirname(t);
    if (!isInside(dir, REPO_ROOT)) continue;
    for (let d = dir; ; d = path.dirname(d)) {
      if (!mounts.some((m) => isInside(d, m))) {
        for (const name of CONFIG_FILES) {
          const f = path.join(d, name);
          if (fs.existsSync(f) && fs.statSync(f).isFile()) {
            pyodide.FS.mkdirTree(d);
            pyodide.FS.writeFile(f, fs.readFileSync(f));
          }
        }
      }
      if (d === REPO_ROOT) break;
    }
  }

  // cwd: the repo root path, which in Pyodide is an in-memory directory
  // holding only the mount points, so relative paths in extra args resolve as
  // on the host while stray writes stay in memory.
  const pluginDir = `${SCRATCH}/plugin`;
  pyodide.FS.mkdirTree(pluginDir);
  pyodide.FS.writeFile(`${pluginDir}/_pyodide_runner_plugin.py`, PY_PLUGIN);
  pyodide.globals.set(
    "_runner_cfg_json",
    JSON.stringify({ src: srcDirs, args: pytestArgs, cwd: REPO_ROOT, plugin_dir: pluginDir }),
  );
  let exitCode, deselected;
  try {
    const result = pyodide.runPython(PY_MAIN);
    [exitCode, deselected] = result.toJs();
    result.destroy();
  } catch (e) {
    process.stderr.write(`${ME}: Python raised before pytest finished:\n${e.message ?? e}\n`);
    process.exit(3);
  }
  timing("pytest finished");
  if (deselected > 0) {
    const n = deselected === 1 ? "1 CPython-only test" : `${deselected} CPython-only tests`;
    process.stdout.write(`${n} not run in Pyodide (they need compiled packages such as jsonschema)\n`);
  }
  process.exit(exitCode);
}

await main();
