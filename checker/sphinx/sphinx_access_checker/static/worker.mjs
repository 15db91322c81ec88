// @ts-check
/**
 * The checker's Web Worker: downloads and starts Pyodide, imports the checker's wheel, and
 * hands every message from the page to Python (access_checker.web.session), posting the reply
 * back. All of Python runs here, so the page's main thread never waits for it.
 *
 * Messages, both ways: protocol.mjs and access_checker/web/protocol.schema.json.
 */

import { PROTOCOL } from "./protocol.mjs";

/** How long a boot may take after the downloads before the WebAssembly file is checked. */
const WASM_CHECK_AFTER_MS = 2000;

/** A failure with a stable code for data-error and a message for the reader. */
class BootError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** The worker's postMessage (the project's types are the page's, whose postMessage differs). */
const send = /** @type {(message: unknown) => void} */ (/** @type {any} */ (globalThis).postMessage);
/** @param {Record<string, unknown>} body */
const post = (body) => send({ v: PROTOCOL, ...body });

/** An error as words (Pyodide may reject with objects that are not Errors). @param {unknown} error */
function describe(error) {
  if (error instanceof Error) return error.message;
  if (typeof error === "object" && error !== null && "message" in error) return String(error.message);
  return String(error);
}

/**
 * Whether the HTTP cache holds ``url`` already (a warm start): then Pyodide reads it from there
 * and reading it here too, only to count its bytes, would make the two reads compete with
 * Python's start in this thread. Any doubt (another origin, an error) answers false.
 * @param {string} url @param {AbortSignal} signal
 */
async function cached(url, signal) {
  try {
    const response = await fetch(url, { signal, cache: "only-if-cached", mode: "same-origin" });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * Fetch a file fully (so it lands in the HTTP cache for Pyodide), counting bytes as they
 * arrive; resolves with the bytes when ``keep`` is set. A file the cache holds already is
 * left to Pyodide, uncounted: nothing is downloaded then.
 * @param {string} url @param {string} code @param {(n: number) => void} count @param {AbortSignal} signal
 * @param {boolean} keep
 * @returns {Promise<Uint8Array | null>}
 */
async function prefetch(url, code, count, signal, keep) {
  if (!keep && await cached(url, signal)) return null;
  let response;
  try {
    response = await fetch(url, { signal });
  } catch {
    throw new BootError("network", "The checker's files could not be downloaded: check your connection and try again.");
  }
  if (!response.ok || !response.body) {
    throw new BootError(code, `A file the checker needs is missing on this site (${new URL(url).pathname}, HTTP ${response.status}).`);
  }
  const reader = response.body.getReader();
  /** @type {Uint8Array[]} */ const chunks = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (keep) chunks.push(value);
    count(value.byteLength);
  }
  return keep ? new Uint8Array(await new Blob(/** @type {BlobPart[]} */ (chunks)).arrayBuffer()) : null;
}

/**
 * Rejects when the boot is slow and the WebAssembly file turns out to be damaged: Pyodide only
 * logs a warning for such a file and never settles. Only a slow boot pays for the check.
 * @param {string} url @param {Promise<unknown>} started
 * @returns {Promise<never>}
 */
function rejectIfDamaged(url, started) {
  return new Promise((_, reject) => {
    const timer = setTimeout(async () => {
      let bytes;
      try {
        bytes = await (await fetch(url)).arrayBuffer(); // from the HTTP cache
      } catch {
        return; // offline now: the page's boot bound will tell
      }
      if (!WebAssembly.validate(bytes)) {
        reject(new BootError("runtime_broken", `A file of the Python runtime on this site is damaged (${new URL(url).pathname} is incomplete or corrupt).`));
      }
    }, WASM_CHECK_AFTER_MS);
    started.finally(() => clearTimeout(timer)).catch(() => {});
  });
}

/** @type {{ handle_json(text: string): string } | null} */
let session = null;

/**
 * @param {{ runtime: string, wheel: string, policy: string, lock: string, settings: Record<string, unknown> }} init
 * URLs are absolute; ``lock`` is the runtime's lock file without packages (none is loaded).
 */
async function boot({ runtime, wheel, policy, lock, settings }) {
  let received = 0;
  let reported = 0;
  const count = (/** @type {number} */ n) => {
    received += n;
    const now = performance.now();
    if (now - reported > 50) { // a message per chunk (~200 of them) would only be noise
      reported = now;
      post({ type: "progress", received });
    }
  };
  const downloads = new AbortController(); // one failed download stops the others
  const files = /** @type {const} */ ([
    [`${runtime}pyodide.asm.wasm`, "runtime_missing"],
    // Precompiled to bytecode by the build: nothing to compile at boot.
    [`${runtime}python_stdlib.zip`, "runtime_missing"],
    [wheel, "wheel_missing"],
    [policy, "policy_missing"],
  ]);
  const downloaded = Promise.all(files.map(([url, code], i) => prefetch(url, code, count, downloads.signal, i >= 2)))
    .catch((error) => { downloads.abort(); throw error; });
  // Start Python while the files arrive: Pyodide's own requests meet ours in the HTTP cache,
  // and the wasm compiles as it streams in.
  const started = import(`${runtime}pyodide.mjs`).then(
    ({ loadPyodide }) => loadPyodide({ indexURL: runtime, packages: [], lockFileContents: lock }).catch((/** @type {unknown} */ e) => {
      throw new BootError("runtime_broken", `The Python runtime failed to start (${describe(e)}).`);
    }),
    () => { throw new BootError("runtime_missing", "The Python runtime of this site is missing or damaged."); },
  );
  started.catch(() => {}); // a missing file is reported by the downloads, with its own code
  const [, , wheelBytes, policyBytes] = await downloaded;
  post({ type: "progress", received });
  post({ type: "phase", name: "downloaded" });
  const pyodide = await Promise.race([started, rejectIfDamaged(files[0][0], started)]);
  post({ type: "phase", name: "python-started" });
  // The wheel goes on sys.path as it is, like the stdlib zip: zipimport takes the .pyc beside
  // each source without unpacking anything.
  const wheelFile = `/lib/${wheel.slice(wheel.lastIndexOf("/") + 1)}`;
  pyodide.FS.writeFile(wheelFile, /** @type {Uint8Array} */ (wheelBytes));
  pyodide.FS.writeFile("/tmp/policy.toml", /** @type {Uint8Array} */ (policyBytes));
  pyodide.runPython(`import sys; sys.path.append(${JSON.stringify(wheelFile)})`);
  let mod;
  try {
    mod = pyodide.pyimport("access_checker.web.session");
  } catch {
    throw new BootError("wheel_broken", "The checker's own package on this site is damaged, so the checker cannot start.");
  }
  post({ type: "phase", name: "checker-imported" });
  session = mod.start("/tmp/policy.toml", JSON.stringify(settings));
  // Where Python took its code from, for tests and support: "bytecode" or "source".
  post({ type: "booted", python: mod.code_origin() });
}

// A policy on this script without 'wasm-unsafe-eval' makes Pyodide wait forever instead of
// failing (the page's boot bound would end it): say why at once.
addEventListener("securitypolicyviolation", (/** @type {SecurityPolicyViolationEvent} */ event) => {
  if (event.blockedURI !== "wasm-eval") return;
  post({ type: "failed", code: "wasm_blocked", message: "This site's security policy does not allow WebAssembly "
    + "(its script-src lacks 'wasm-unsafe-eval'), so the Python runtime cannot start." });
});

addEventListener("message", (/** @type {MessageEvent} */ { data }) => {
  if (data?.type === "init") {
    boot(data).catch((error) => post(error instanceof BootError
      ? { type: "failed", code: error.code, message: error.message }
      : { type: "failed", code: "boot_failed", message: `The checker could not start (${describe(error)}).` }));
    return;
  }
  try {
    if (!session) throw new Error("a message came before the checker started");
    send(JSON.parse(session.handle_json(JSON.stringify(data))));
  } catch (error) {
    // A bug or a broken runtime: the page tells the reader, keeps the draft, offers a restart.
    post({ type: "crashed", id: data?.id ?? null, message: describe(error) });
  }
});
