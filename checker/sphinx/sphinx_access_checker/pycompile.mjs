#!/usr/bin/env node
// Precompile Python to bytecode with Pyodide's OWN interpreter (the host CPython has a
// different magic number), in one Node process, for the site's self-hosted runtime.
//
//   node pycompile.mjs --pyodide node_modules/pyodide [--stdlib-out FILE] [--stdlib-src FILE]
//                      [--package DIR --package-out DIR [--package-name NAME]]
//   node pycompile.mjs --job job.json
//
// job.json: {"pyodide": DIR,
//            "stdlib": {"src": FILE (default DIR/python_stdlib.zip), "out": FILE},
//            "package": {"root": DIR, "out": DIR, "name": NAME, "files": [relative .py paths]}}
// Both jobs are optional; with neither, the script only reports the interpreter's magic number.
//
// stdlib: every .py member of python_stdlib.zip is replaced by a sourceless, unchecked-hash .pyc
//   at the same path (json/__init__.py -> json/__init__.pyc). zipimport looks for <name>.pyc
//   beside the package dirs and never in __pycache__, so this is the layout that skips
//   compiling at import; the .py copies are left out (2.5 MB more to download, only for source
//   lines of stdlib frames in tracebacks). Code objects keep "/lib/python3XX.zip/<member>.py"
//   as their file name, as if compiled from the source. Other members are copied unchanged. The
//   zip is written deterministically inside Pyodide (sorted members, 1980-01-01 timestamps,
//   fixed modes, deflate level 9), so identical inputs give byte-identical zips on any host.
// package: each .py file (the whole tree under --package, or the job's "files" list) gives
//   <dir>/<stem>.pyc (unchecked hash) under --package-out, beside its source: the browser imports
//   the wheel itself with zipimport, which looks there first and never in __pycache__ (a
//   CPython that installs the wheel finds the .py first and ignores them). The sources stay in
//   the wheel, so tracebacks keep their lines. The package is compiled first, in a freshly
//   booted interpreter, so its bytes do not depend on whether the stdlib was compiled in the
//   same run.
//
// Unchecked-hash pycs: the source is never re-read to validate them (zip members carry no
// real mtimes, and the browser never edits its files).
//
// Prints one JSON line on stdout (counts, magic number, seconds); on failure prints one line
// "pycompile.mjs: ..." on stderr and exits 1 (2 for a usage error).

import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const ME = "pycompile.mjs";
const T0 = performance.now();
const seconds = (since) => Math.round((performance.now() - since) / 10) / 100;

class UsageError extends Error {}

function fail(message, code = 1) {
  process.stderr.write(`${ME}: ${String(message).replace(/\s*\n\s*/g, " | ")}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const flags = {};
  const names = ["pyodide", "stdlib-src", "stdlib-out", "package", "package-out", "package-name", "job"];
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m || !names.includes(m[1])) throw new UsageError(`unknown argument ${JSON.stringify(argv[i])}`);
    const value = m[2] !== undefined ? m[2] : argv[++i];
    if (value === undefined || value === "") throw new UsageError(`--${m[1]} needs a value`);
    flags[m[1]] = value;
  }
  let job;
  if (flags.job) {
    if (Object.keys(flags).length > 1) throw new UsageError("--job cannot be combined with other arguments");
    try {
      job = JSON.parse(fs.readFileSync(flags.job, "utf8"));
    } catch (e) {
      throw new UsageError(`cannot read the job file ${flags.job}: ${e.message}`);
    }
  } else {
    job = { pyodide: flags.pyodide };
    if (flags["stdlib-out"]) job.stdlib = { out: flags["stdlib-out"], src: flags["stdlib-src"] };
    else if (flags["stdlib-src"]) throw new UsageError("--stdlib-src needs --stdlib-out");
    if (flags.package || flags["package-out"]) {
      if (!flags.package || !flags["package-out"]) throw new UsageError("--package and --package-out go together");
      job.package = { root: flags.package, out: flags["package-out"], name: flags["package-name"] };
    }
  }
  if (!job.pyodide) throw new UsageError("--pyodide DIR (the npm package folder) is required");
  return job;
}

function usage() {
  return `usage: node ${ME} --pyodide DIR [--stdlib-out FILE] [--package DIR --package-out DIR] | --job FILE`;
}

// Sorted relative paths of the .py files under root, __pycache__ and hidden folders left out.
function walkPy(root) {
  const found = [];
  const visit = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "__pycache__" && !entry.name.startsWith(".")) visit(full);
      } else if (entry.isFile() && entry.name.endsWith(".py")) {
        found.push(path.relative(root, full).split(path.sep).join("/"));
      }
    }
  };
  visit(root);
  return found.sort();
}

function writeAtomic(target, data) {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, target);
}

// Runs inside Pyodide. Reads its job from the JSON string `_pycompile_job`, returns a JSON report.
const PY_COMPILE = String.raw`
import importlib.util
import json
import os
import sys
import time
import zipfile
from importlib._bootstrap_external import _code_to_hash_pyc

EPOCH = (1980, 1, 1, 0, 0, 0)


class CompileFailure(Exception):
    pass


job = json.loads(_pycompile_job)
report = {
    "python": sys.version.split()[0],
    "magic": importlib.util.MAGIC_NUMBER.hex(),
    "magic_number": int.from_bytes(importlib.util.MAGIC_NUMBER[:2], "little"),
    "cache_tag": sys.implementation.cache_tag,
}


def to_pyc(source, filename):
    code = compile(source, filename, "exec", dont_inherit=True, optimize=0)
    return bytes(_code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False))


package = job.get("package")
if package:
    started = time.perf_counter()
    written = []
    for rel in package["files"]:
        with open(package["in"] + "/" + rel, "rb") as handle:
            source = handle.read()
        out_rel = rel[:-3] + ".pyc"
        try:
            pyc = to_pyc(source, package["name"] + "/" + rel)
        except SyntaxError as error:
            raise CompileFailure(f"{package['name']}/{rel} line {error.lineno}: {error.msg}") from None
        os.makedirs(os.path.dirname(package["out"] + "/" + out_rel), exist_ok=True)
        with open(package["out"] + "/" + out_rel, "wb") as handle:
            handle.write(pyc)
        written.append(out_rel)
    report["package"] = {"compiled": len(written), "files": written, "seconds": round(time.perf_counter() - started, 2)}

stdlib = job.get("stdlib")
if stdlib:
    started = time.perf_counter()
    # Where Pyodide puts the stdlib zip (loadPyodide writes stdLibURL there): code objects
    # get the file names they would get if zipimport had compiled the sources.
    prefix = f"/lib/python{sys.version_info[0]}{sys.version_info[1]}.zip"
    if prefix not in sys.path:
        raise CompileFailure(f"{prefix} is not on Pyodide's sys.path ({sys.path}): this Pyodide lays out its stdlib differently")
    members = {}
    compiled = copied = 0
    kept_source = []
    with zipfile.ZipFile(stdlib["in"]) as source_zip:
        for info in source_zip.infolist():
            data = source_zip.read(info)
            name = info.filename
            if name.endswith(".py"):
                try:
                    members[name[:-3] + ".pyc"] = to_pyc(data, prefix + "/" + name)
                    compiled += 1
                    continue
                except SyntaxError:
                    kept_source.append(name)  # left as source: importing it fails as it would before
            elif not info.is_dir():
                copied += 1
            members[name] = data
    with zipfile.ZipFile(stdlib["out"], "w") as out_zip:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.create_system = 3
            if name.endswith("/"):
                info.external_attr = (0o40755 << 16) | 0x10
                out_zip.writestr(info, b"")
            else:
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                out_zip.writestr(info, members[name], compresslevel=9)
    report["stdlib"] = {
        "compiled": compiled, "copied": copied, "kept_source": kept_source,
        "bytes_in": os.path.getsize(stdlib["in"]), "bytes_out": os.path.getsize(stdlib["out"]),
        "seconds": round(time.perf_counter() - started, 2),
    }

json.dumps(report)
`;

async function main() {
  let job;
  try {
    job = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) fail(`${e.message}\n${usage()}`, 2);
    throw e;
  }
  const pyodideDir = path.resolve(job.pyodide);
  const entry = path.join(pyodideDir, "pyodide.mjs");
  if (!fs.existsSync(entry)) {
    fail(`${entry} is missing: install the npm package pyodide first (npm ci)`);
  }
  const version = JSON.parse(fs.readFileSync(path.join(pyodideDir, "package.json"), "utf8")).version;

  // Read every input before the ~2.5 s boot, so that a wrong path fails fast.
  const pyJob = {};
  let stdlibSource, stdlibOut, packageSources, packageOut;
  if (job.stdlib) {
    if (!job.stdlib.out) fail("the stdlib job needs an output file (out)");
    const src = path.resolve(job.stdlib.src || path.join(pyodideDir, "python_stdlib.zip"));
    if (!fs.existsSync(src)) fail(`${src} is missing: reinstall the npm package pyodide (npm ci)`);
    stdlibSource = fs.readFileSync(src);
    stdlibOut = path.resolve(job.stdlib.out);
    pyJob.stdlib = { in: "/pycompile/stdlib.zip", out: "/pycompile/stdlib-out.zip" };
  }
  if (job.package) {
    const root = path.resolve(job.package.root);
    if (!job.package.out) fail("the package job needs an output folder (out)");
    if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) fail(`package folder ${root} does not exist`);
    const files = job.package.files ? [...job.package.files].sort() : walkPy(root);
    for (const rel of files) {
      if (!rel.endsWith(".py") || rel.startsWith("/") || rel.split("/").includes("..")) {
        fail(`package file ${JSON.stringify(rel)} must be a relative .py path inside ${root}`);
      }
    }
    packageSources = files.map((rel) => [rel, fs.readFileSync(path.join(root, ...rel.split("/")))]);
    packageOut = path.resolve(job.package.out);
    pyJob.package = { in: "/pycompile/pkg", out: "/pycompile/pkg-out", files, name: job.package.name || path.basename(root) };
  }

  const bootStarted = performance.now();
  const { loadPyodide } = await import(pathToFileURL(entry).href);
  // Pyodide's own output goes to stderr: stdout carries only the JSON report.
  const toStderr = (line) => process.stderr.write(line + "\n");
  const pyodide = await loadPyodide({
    indexURL: pyodideDir + path.sep,
    env: { HOME: "/home/pyodide", PYTHONDONTWRITEBYTECODE: "1", PYTHONHASHSEED: "0" },
    stdout: toStderr,
    stderr: toStderr,
  });
  const bootSeconds = seconds(bootStarted);

  pyodide.FS.mkdirTree("/pycompile/pkg-out");
  if (stdlibSource) pyodide.FS.writeFile(pyJob.stdlib.in, stdlibSource);
  for (const [rel, data] of packageSources || []) {
    const target = `${pyJob.package.in}/${rel}`;
    pyodide.FS.mkdirTree(path.posix.dirname(target));
    pyodide.FS.writeFile(target, data);
  }
  pyodide.globals.set("_pycompile_job", JSON.stringify(pyJob));
  let report;
  try {
    report = JSON.parse(pyodide.runPython(PY_COMPILE));
  } catch (e) {
    // A PythonError's message is the whole traceback: keep its last line (the exception).
    const lines = String(e.message ?? e).trim().split("\n");
    fail(`compiling in Pyodide failed: ${lines[lines.length - 1].replace(/^CompileFailure: /, "")}`);
  }

  if (stdlibOut) writeAtomic(stdlibOut, pyodide.FS.readFile(pyJob.stdlib.out));
  if (packageOut) {
    for (const rel of report.package.files) {
      writeAtomic(path.join(packageOut, ...rel.split("/")), pyodide.FS.readFile(`${pyJob.package.out}/${rel}`));
    }
  }
  report = { pyodide: version, ...report, boot_seconds: bootSeconds, seconds: seconds(T0) };
  if (report.stdlib) report.stdlib.out = stdlibOut;
  if (report.package) report.package.out = packageOut;
  process.stdout.write(JSON.stringify(report) + "\n");
  process.exit(0);
}

try {
  await main();
} catch (e) {
  fail(e?.message ?? e);
}
