// @ts-check
/**
 * The bare boot in a module Web Worker: imports pyodide.mjs from the runtime folder and calls
 * loadPyodide with the options the widget's worker (static/worker.mjs) uses, then runs one
 * line of Python and posts the answer. No prefetching, no checker: the floor of a worker boot.
 */

import { options } from "./bare-options.mjs";

const send = /** @type {(message: unknown) => void} */ (/** @type {any} */ (globalThis).postMessage);

addEventListener("message", async (/** @type {MessageEvent} */ { data }) => {
  try {
    const { loadPyodide } = await import(data.runtime + "pyodide.mjs");
    const pyodide = await loadPyodide(options(data));
    send({ ok: true, result: String(pyodide.runPython("1+1")) });
  } catch (error) {
    send({ ok: false, error: error instanceof Error ? error.message : String(error) });
  }
});
