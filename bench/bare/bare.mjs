// @ts-check
/**
 * The benchmark baseline: on click, boot Pyodide from the given runtime folder and run one
 * line of Python, nothing else. Same hooks as the widget (maintainers, "How the checker works"):
 * data-state idle → loading → ready (or error), and window.bare.ready.
 *
 * data-thread="worker": Pyodide boots in a module Web Worker (bare-worker.mjs), with the
 * options the widget's worker.mjs gives it; "main": on this page's thread, same options.
 */

import { options } from "./bare-options.mjs";

const root = /** @type {HTMLElement} */ (document.querySelector("[data-bare]"));

/** @type {(value: void) => void} */ let resolveReady = () => {};
/** @type {(reason: unknown) => void} */ let rejectReady = () => {};
const ready = new Promise((resolve, reject) => { resolveReady = resolve; rejectReady = reject; });
ready.catch(() => {});
Object.defineProperty(window, "bare", { value: { ready } });

/** The boot's settings, absolute URLs. */
const settings = () => ({
  runtime: new URL(root.dataset.runtime ?? "", location.href).href,
  stdlib: root.dataset.stdlib ? new URL(root.dataset.stdlib, location.href).href : "",
  lock: root.dataset.lock ?? "",
});

/** @returns {Promise<string>} what Python answered */
const onThisThread = async () => {
  const init = settings();
  const { loadPyodide } = await import(init.runtime + "pyodide.mjs");
  const pyodide = await loadPyodide(options(init));
  return String(pyodide.runPython("1+1"));
};

/** @returns {Promise<string>} what Python answered */
const inWorker = () => new Promise((resolve, reject) => {
  const worker = new Worker(new URL("./bare-worker.mjs", import.meta.url), { type: "module" });
  worker.addEventListener("error", (event) => { event.preventDefault(); reject(new Error(`worker: ${event.message}`)); });
  worker.addEventListener("message", (/** @type {MessageEvent} */ { data }) => {
    if (data?.ok) resolve(String(data.result));
    else reject(new Error(String(data?.error)));
  });
  worker.postMessage(settings());
});

const boot = async () => {
  root.dataset.state = "loading";
  const answer = await (root.dataset.thread === "worker" ? inWorker() : onThisThread());
  /** @type {HTMLElement} */ (root.querySelector("[data-result]")).textContent = answer;
  root.dataset.state = "ready";
  resolveReady();
};

let started = false;
/** @type {HTMLElement} */ (root.querySelector("[data-action=start]")).addEventListener("click", () => {
  if (started) return;
  started = true;
  boot().catch((error) => {
    root.dataset.state = "error";
    root.dataset.error = String(error);
    rejectReady(error);
  });
});
