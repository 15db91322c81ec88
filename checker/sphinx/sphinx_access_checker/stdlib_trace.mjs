#!/usr/bin/env node
// Plays the page's worker (static/worker.mjs) under Node and reports every module Python loaded:
//
//   node stdlib_trace.mjs JOB_FILE
//
// stdlib_trim.py writes JOB_FILE (JSON: pyodide, stdlib, lock, wheel, policy, script, entry,
// settings, messages, report; see run_trace there) and reads the report this writes to the
// file named by "report" (JSON: rows, replies, codeOrigin).
//
// It boots Pyodide with the worker's loadPyodide options (no packages, the lock file's contents
// given; the stdlib zip named by the job), writes the wheel and the policy where the worker
// writes them, puts the wheel on sys.path, imports the checker's entry point, starts a
// session, asks for code_origin() and hands it each message as the worker does, keeping each
// reply or, when Python raised, the error's message (what the worker posts as "crashed").
//
// SCRIPT (trace_in_pyodide.py) runs first, as the worker's first runPython does; its mark()
// attributes what was loaded to each phase. Exit status 0 with the report; otherwise one line
// "stdlib_trace.mjs: ..." on stderr and 1, or 2 for a usage error.

import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const ME = "stdlib_trace.mjs";

function fail(message, code = 1) {
  process.stderr.write(`${ME}: ${String(message).replace(/\s*\n\s*/g, " | ")}\n`);
  process.exit(code);
}

/** The worker's describe(): an error as words. */
function describe(error) {
  if (error instanceof Error) return error.message;
  if (typeof error === "object" && error !== null && "message" in error) return String(error.message);
  return String(error);
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length !== 1) fail(`usage: node ${ME} JOB_FILE`, 2);
  const job = JSON.parse(fs.readFileSync(args[0], "utf8"));
  const entry = path.join(job.pyodide, "pyodide.mjs");
  if (!fs.existsSync(entry)) fail(`${entry} is missing: install the npm package pyodide first (npm ci)`);

  const { loadPyodide } = await import(pathToFileURL(entry).href);
  const toStderr = (line) => process.stderr.write(line + "\n");
  const pyodide = await loadPyodide({
    indexURL: job.pyodide + path.sep, stdLibURL: job.stdlib, packages: [], lockFileContents: job.lock,
    stdout: toStderr, stderr: toStderr,
  });
  pyodide.runPython(fs.readFileSync(job.script, "utf8"), { filename: job.script });
  const tracer = (name) => pyodide.globals.get(name);
  tracer("mark")("boot");

  // The worker's steps, in its order (worker.mjs, boot()).
  const wheelFile = `/lib/${path.basename(job.wheel)}`;
  pyodide.FS.writeFile(wheelFile, new Uint8Array(fs.readFileSync(job.wheel)));
  pyodide.FS.writeFile("/tmp/policy.toml", new Uint8Array(fs.readFileSync(job.policy)));
  pyodide.pyimport("sys").path.append(wheelFile);
  const mod = pyodide.pyimport(job.entry);
  tracer("mark")("import");
  const session = mod.start("/tmp/policy.toml", JSON.stringify(job.settings));
  const codeOrigin = mod.code_origin();
  const replies = [];
  for (const message of job.messages) {
    try {
      replies.push({ reply: JSON.parse(session.handle_json(JSON.stringify(message))) });
    } catch (error) {
      replies.push({ crashed: describe(error) });
    }
  }
  tracer("mark")("session");

  const encodings = tracer("import_encodings")();
  tracer("mark")("encodings");
  const rows = JSON.parse(tracer("describe")(wheelFile, encodings));
  // A file, written at once: a large write to a pipe may still be under way at process.exit().
  fs.writeFileSync(job.report, JSON.stringify({ rows, replies, codeOrigin }));
}

/**
 * A PythonError's message is the whole traceback: keep the exception's line and what follows
 * it (Pyodide adds notes after a ModuleNotFoundError).
 */
function exception(text) {
  const lines = text.trim().split("\n");
  const at = lines.findLastIndex((line) => /^[A-Za-z_][\w.]*: /.test(line));
  return lines.slice(at < 0 ? -1 : at).join(" ");
}

try {
  await main();
  process.exit(0);
} catch (e) {
  fail(exception(describe(e)));
}
