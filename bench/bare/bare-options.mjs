// @ts-check
/**
 * loadPyodide's options for the bare boots, the same as the widget's worker.mjs passes:
 * the runtime folder, no packages and, when the page has it, the lock file's contents (so that
 * Pyodide does not download pyodide-lock.json). A stdlib URL only when the widget names one.
 *
 * @param {{ runtime: string, stdlib?: string, lock?: string }} init absolute URLs
 * @returns {{ indexURL: string, packages: string[], lockFileContents?: string, stdLibURL?: string }}
 */
export function options({ runtime, stdlib, lock }) {
  /** @type {{ indexURL: string, packages: string[], lockFileContents?: string, stdLibURL?: string }} */
  const out = { indexURL: runtime, packages: [] };
  if (lock) out.lockFileContents = lock;
  if (stdlib) out.stdLibURL = stdlib;
  return out;
}
