// @ts-check
/**
 * The benchmark baseline: on click, boot Pyodide from the given runtime folder and run one
 * line of Python, nothing else. Same hooks as the widget (maintainers, "How the checker works"):
 * data-state idle → loading → ready (or error), and window.bare.ready.
 */

const root = /** @type {HTMLElement} */ (document.querySelector("[data-bare]"));

/** @type {(value: void) => void} */ let resolveReady = () => {};
/** @type {(reason: unknown) => void} */ let rejectReady = () => {};
const ready = new Promise((resolve, reject) => { resolveReady = resolve; rejectReady = reject; });
ready.catch(() => {});
Object.defineProperty(window, "bare", { value: { ready } });

const boot = async () => {
  root.dataset.state = "loading";
  const runtime = new URL(root.dataset.runtime ?? "", location.href).href;
  const { loadPyodide } = await import(runtime + "pyodide.mjs");
  /** @type {{ indexURL: string, stdLibURL?: string }} */
  const options = { indexURL: runtime };
  if (root.dataset.stdlib) options.stdLibURL = new URL(root.dataset.stdlib, location.href).href;
  const pyodide = await loadPyodide(options);
  const result = /** @type {HTMLElement} */ (root.querySelector("[data-result]"));
  result.textContent = String(pyodide.runPython("1+1"));
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
