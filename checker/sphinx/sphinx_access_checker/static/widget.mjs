// @ts-check
/**
 * The access checker's loader: boots the self-hosted Pyodide on demand, installs the checker's
 * wheel and hands the page over to Python (access_checker.web.app). It holds no access rules.
 *
 * Contract (design.md, 1): the root [data-access-checker] carries data-state, data-level,
 * data-signin and data-error; window.accessChecker offers ready, start(), signIn(),
 * signOut() and assessment.
 */

const SUMMARY_KEY = "access-checker:summary";
const USED_KEY = "access-checker:used";

/** @typedef {{ show(claims: string | null, expires: number): string }} PyWidget */

/** A failure with a stable code for data-error and a message for the reader. */
class CheckerError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const root = /** @type {HTMLElement | null} */ (document.querySelector("[data-access-checker]"));

/** @param {HTMLElement} el @param {string} name */
function data(el, name) {
  return el.dataset[name] ?? "";
}

/**
 * Fetch a file fully (so it lands in the HTTP cache before Pyodide asks for it) and report
 * bytes as they arrive.
 * @param {string} url @param {string} code @param {(n: number) => void} progress
 */
async function prefetch(url, code, progress) {
  let response;
  try {
    response = await fetch(url);
  } catch {
    throw new CheckerError("network", "The checker's files could not be downloaded: check your connection and try again.");
  }
  if (!response.ok || !response.body) {
    throw new CheckerError(code, `A file the checker needs is missing on this site (${new URL(url, location.href).pathname}, HTTP ${response.status}).`);
  }
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    progress(value.byteLength);
  }
}

/**
 * @template T
 * @param {Promise<T>} promise @param {number} seconds @param {string} message
 * @returns {Promise<T>}
 */
function within(promise, seconds, message) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new CheckerError("boot_timeout", message)), seconds * 1000);
    promise.then(
      (value) => { clearTimeout(timer); resolve(value); },
      (error) => { clearTimeout(timer); reject(error); },
    );
  });
}

if (root) {
  const status = /** @type {HTMLElement} */ (root.querySelector(".access-checker__status"));
  const app = /** @type {HTMLElement} */ (root.querySelector(".access-checker__app"));
  const runtime = new URL(data(root, "runtime"), location.href).href;
  const bootTimeout = Number(data(root, "bootTimeout")) || 60;

  /** @type {((value: void) => void) | undefined} */ let resolveReady;
  /** @type {((reason: unknown) => void) | undefined} */ let rejectReady;
  /** @type {Promise<void>} */
  const ready = new Promise((resolve, reject) => { resolveReady = resolve; rejectReady = reject; });
  ready.catch(() => {}); // the page handles failures itself; this only silences "unhandled"

  /** @type {Promise<PyWidget> | null} */ let booting = null;

  /** @param {string} message */
  const announce = (message) => { status.textContent = message; };

  const bridge = {
    /** @param {string} message */
    announce,
    /** @param {string} text */
    copy(text) {
      navigator.clipboard.writeText(text).catch(() => announce("Copying is blocked in this browser: use Download JSON instead."));
    },
    /** @param {string} filename @param {string} text */
    download(filename, text) {
      const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = filename;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    },
    forgotten() {
      sessionStorage.removeItem(USED_KEY);
      api.assessment = null;
    },
  };

  /** @param {unknown} error */
  const fail = (error) => {
    const known = error instanceof CheckerError;
    root.dataset.state = "error";
    root.dataset.error = known ? error.code : "boot_failed";
    const text = known ? error.message : `The checker could not start (${String(error)}).`;
    const help = document.createElement("p");
    help.className = "access-checker__failure";
    help.setAttribute("role", "alert");
    const support = document.createElement("a");
    support.href = new URL(data(root, "root") + data(root, "supportPage"), location.href).href;
    support.textContent = "contact support";
    const helpdesk = document.createElement("a");
    helpdesk.href = data(root, "helpdesk");
    helpdesk.textContent = "helpdesk";
    help.append(`${text} The rest of this page still explains the levels; to ask for more access, `, support,
      " (", helpdesk, `, ${data(root, "supportEmail")}).`);
    app.replaceChildren(help);
    announce("The access checker could not start.");
    rejectReady?.(error);
  };

  /** Boot Pyodide and mount the Python widget; resolves once, shared by every caller. */
  const boot = () => {
    booting ??= (async () => {
      root.dataset.state = "loading";
      let received = 0;
      const report = () => announce(`Downloading the checker… ${(received / 1e6).toFixed(1)} MB`);
      const count = (/** @type {number} */ n) => { received += n; report(); };
      report();
      await Promise.all([
        prefetch(runtime + "pyodide.asm.wasm", "runtime_missing", count),
        prefetch(runtime + "python_stdlib.zip", "runtime_missing", count),
        prefetch(runtime + "pyodide-lock.json", "runtime_missing", count),
        prefetch(data(root, "wheel"), "wheel_missing", count),
        prefetch(data(root, "policy"), "policy_missing", count),
      ]);
      announce("Starting Python…");
      const { loadPyodide } = await import(runtime + "pyodide.mjs").catch(() => {
        throw new CheckerError("runtime_missing", "The Python runtime of this site is missing or damaged.");
      });
      // The timeout starts once the downloads are done: a strict CSP without
      // 'wasm-unsafe-eval' makes loadPyodide hang forever instead of failing.
      const pyodide = await within(
        loadPyodide({ indexURL: runtime, packages: [] }).catch((/** @type {unknown} */ e) => {
          throw new CheckerError("runtime_broken", `The Python runtime failed to start (${String(e)}).`);
        }),
        bootTimeout,
        `The Python runtime did not start within ${bootTimeout} seconds (a browser extension or a strict security policy may block WebAssembly).`,
      );
      announce("Loading the checker…");
      await pyodide.loadPackage(new URL(data(root, "wheel"), location.href).href, { messageCallback: () => {} });
      const policy = new Uint8Array(await (await fetch(data(root, "policy"))).arrayBuffer());
      const settings = JSON.stringify({ root: data(root, "root"), pagePattern: data(root, "pagePattern") });
      const mod = pyodide.pyimport("access_checker.web.app");
      return /** @type {PyWidget} */ (mod.mount(app, policy, settings, bridge));
    })();
    return booting;
  };

  /**
   * Assess claims (null: not signed in) and publish the result on the root and the API.
   * @param {string | null} claims @param {number} expires
   */
  const evaluate = async (claims, expires) => {
    const widget = await boot();
    root.dataset.state = "loading";
    const assessment = JSON.parse(widget.show(claims, expires));
    api.assessment = assessment;
    root.dataset.level = assessment.level;
    root.dataset.state = "ready";
    sessionStorage.setItem(USED_KEY, "1");
    announce(assessment.signed_in ? "Your access level is shown below." : "The checker is ready.");
    resolveReady?.();
    return assessment;
  };

  const api = {
    ready,
    /** @type {Record<string, unknown> | null} */ assessment: null,
    /** What the start button does: check without signing in. */
    start: () => evaluate(null, 0).catch(fail),
    signIn: async () => { throw new CheckerError("signin_unavailable", "Sign-in is not configured on this site."); },
    signOut: async () => {},
  };
  Object.defineProperty(window, "accessChecker", { value: api, configurable: false });

  root.addEventListener("click", (event) => {
    const target = /** @type {HTMLElement} */ (event.target);
    const action = target.closest("[data-action]")?.getAttribute("data-action");
    if (action === "start") void api.start();
    if (action === "sign-in") void api.signIn();
  });

  // Later visits in the same tab, once the reader has used the checker, start by themselves.
  if (sessionStorage.getItem(USED_KEY) || sessionStorage.getItem(SUMMARY_KEY)) void api.start();
}
