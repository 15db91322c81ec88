// @ts-check
/**
 * The access checker's loader: boots the self-hosted Pyodide on demand, installs the checker's
 * wheel, hands the page over to Python (access_checker.web.app) and runs the sign-in. It holds
 * no access rules.
 *
 * Contract (maintainers, "How the checker works"): the root [data-access-checker] carries data-state, data-level,
 * data-signin and data-error; window.accessChecker offers ready, start(), signIn(),
 * signOut() and assessment.
 */

import { display } from "./text.mjs";

/**
 * The sign-in code (with oauth4webapi, the larger part of the widget's JavaScript) loads only
 * when the reader signs in, comes back from the provider, or signs out.
 * @type {Promise<typeof import("./signin.mjs")> | null}
 */
let signinModule = null;
const signin = () => (signinModule ??= import("./signin.mjs").catch(() => {
  signinModule = null; // offline: try again on the next click
  throw new CheckerError("idp_down", "Sign-in could not start: this page cannot reach the network right now.");
}));

/** True when the address carries an authorization response for us to complete. */
function isCallback() {
  const params = new URLSearchParams(location.search);
  return params.has("state") && (params.has("code") || params.has("error"));
}

/** A failure's stable code, for data-error (CheckerError and SignInError both carry one). @param {unknown} error */
function codeOf(error) {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : null;
}

const SUMMARY_KEY = "access-checker:summary";
const CLAIMS_KEY = "access-checker:claims";
const USED_KEY = "access-checker:used";

/**
 * The boot's phases as User Timing marks (DevTools' Performance panel shows them; the
 * benchmarks read them): the status line cannot tell, as its observers run only after the
 * synchronous Python work that follows each change.
 * @param {"boot" | "downloaded" | "python-started" | "checker-imported" | "ready"} name
 */
const mark = (name) => { performance.mark(`access-checker:${name}`); };

/** How long a boot may take after the downloads before the WebAssembly file is checked. */
const WASM_CHECK_AFTER_MS = 2000;

/**
 * @typedef {{ show(claims: string | null, expires: number): string, discard_draft(): void }} PyWidget
 * @typedef {import("./signin.mjs").Settings} Settings
 */

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
 * Fetch a file fully (so it lands in the HTTP cache for Pyodide) and report bytes as they
 * arrive. Resolves with the bytes when ``keep`` is set.
 * @param {string} url @param {string} code @param {(n: number) => void} progress @param {AbortSignal} signal
 * @param {boolean} keep
 * @returns {Promise<Uint8Array | null>}
 */
async function prefetch(url, code, progress, signal, keep) {
  let response;
  try {
    response = await fetch(url, { signal });
  } catch {
    throw new CheckerError("network", "The checker's files could not be downloaded: check your connection and try again.");
  }
  if (!response.ok || !response.body) {
    throw new CheckerError(code, `A file the checker needs is missing on this site (${new URL(url, location.href).pathname}, HTTP ${response.status}).`);
  }
  const reader = response.body.getReader();
  /** @type {Uint8Array[]} */ const chunks = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (keep) chunks.push(value);
    progress(value.byteLength);
  }
  return keep ? new Uint8Array(await new Blob(/** @type {BlobPart[]} */ (chunks)).arrayBuffer()) : null;
}

/**
 * Rejects when the boot is slow and the WebAssembly file turns out to be damaged: Pyodide only
 * logs a warning for such a file and never settles, which would end in a misleading timeout.
 * Checking only a slow boot spares every healthy one the check (~80 ms later ready on a cold
 * start, measured); a healthy boot is done well within ``graceMs`` of the downloads.
 * @param {string} url @param {Promise<unknown>} started @param {number} graceMs
 * @returns {Promise<never>}
 */
function rejectIfDamaged(url, started, graceMs) {
  return new Promise((_, reject) => {
    const timer = setTimeout(async () => {
      let bytes;
      try {
        bytes = await (await fetch(url)).arrayBuffer(); // from the HTTP cache
      } catch {
        return; // offline now: the boot bound will tell
      }
      if (!WebAssembly.validate(bytes)) {
        reject(new CheckerError("runtime_broken", `A file of the Python runtime on this site is damaged (${new URL(url).pathname} is incomplete or corrupt).`));
      }
    }, graceMs);
    started.finally(() => clearTimeout(timer)).catch(() => {});
  });
}

/** An error as words for the reader (Pyodide may reject with objects that are not Errors). @param {unknown} error */
function describe(error) {
  if (error instanceof Error) return error.message;
  if (typeof error === "object" && error !== null && "message" in error) return String(error.message);
  return String(error);
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

/**
 * A name from the provider as the page shows it: one line of at most 80 characters, with
 * what a one-line field refuses (controls, text-direction characters, which could garble or
 * disguise the line) as U+FFFD.
 * @param {string} text
 */
function displayName(text) {
  return display(text, { limit: 80 });
}

/** @param {string} key @returns {any} */
function readJson(key) {
  try {
    return JSON.parse(sessionStorage.getItem(key) ?? "null");
  } catch {
    return null;
  }
}

if (root) {
  const status = /** @type {HTMLElement} */ (root.querySelector(".access-checker__status"));
  const message = /** @type {HTMLElement} */ (root.querySelector(".access-checker__message"));
  const app = /** @type {HTMLElement} */ (root.querySelector(".access-checker__app"));
  const runtime = new URL(data(root, "runtime"), location.href).href;
  const bootTimeout = Number(data(root, "bootTimeout")) || 60;
  const siteRoot = new URL(data(root, "root"), location.href);
  /** @type {Settings | null} */
  const settings = data(root, "clientId")
    ? {
      issuer: new URL(data(root, "issuer")),
      clientId: data(root, "clientId"),
      scopes: data(root, "scopes"),
      redirectUri: new URL(data(root, "redirectPage"), siteRoot).href,
      postLogoutUri: new URL(data(root, "postLogoutPage"), siteRoot).href,
    }
    : null;

  const wheelUrl = new URL(data(root, "wheel"), location.href).href;
  const policyUrl = new URL(data(root, "policy"), location.href).href;
  /** Every file the boot downloads, with the error code its absence gives. @type {[string, string][]} */
  const bootFiles = [
    [runtime + "pyodide.asm.wasm", "runtime_missing"],
    // Precompiled to bytecode by the build (a sourceless zip): nothing to compile at boot.
    [runtime + "python_stdlib.zip", "runtime_missing"],
    [runtime + "pyodide-lock.json", "runtime_missing"],
    [wheelUrl, "wheel_missing"],
    [policyUrl, "policy_missing"],
  ];

  /**
   * Intent to use the checker (pointer resting on, or focus reaching, a start or sign-in
   * button): start the downloads, but not the boot, which would block the main thread.
   */
  let preloaded = false;
  const preload = () => {
    if (preloaded || booting) return;
    preloaded = true;
    const modules = [runtime + "pyodide.mjs", runtime + "pyodide.asm.mjs"];
    if (settings) modules.push(new URL("./signin.mjs", import.meta.url).href, new URL("./oauth4webapi.mjs", import.meta.url).href);
    for (const href of modules) {
      const link = document.createElement("link");
      link.rel = "modulepreload";
      link.href = href;
      document.head.append(link);
    }
    for (const [url] of bootFiles) {
      const link = document.createElement("link");
      link.rel = "preload";
      link.as = "fetch";
      link.crossOrigin = "anonymous";
      link.href = url;
      document.head.append(link);
    }
  };

  /** @type {((value: void) => void) | undefined} */ let resolveReady;
  /** @type {((reason: unknown) => void) | undefined} */ let rejectReady;
  /** @type {Promise<void>} */
  const ready = new Promise((resolve, reject) => { resolveReady = resolve; rejectReady = reject; });
  ready.catch(() => {}); // the page reports failures itself; this only silences "unhandled"

  /** @type {Promise<PyWidget> | null} */ let booting = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */ let expiryTimer;

  /** @param {string} text */
  const announce = (text) => { status.textContent = text; };

  /** Show a lasting message (sign-in problems, failures) with the support links. @param {string} text */
  const tell = (text) => {
    const support = document.createElement("a");
    support.href = new URL(data(root, "supportPage"), siteRoot).href;
    support.textContent = "contact support";
    const helpdesk = document.createElement("a");
    helpdesk.href = data(root, "helpdesk");
    helpdesk.textContent = "helpdesk";
    message.replaceChildren(`${text} You can still read the levels below and ask for more access by hand, or `,
      support, " (", helpdesk, `, ${data(root, "supportEmail")}).`);
    message.hidden = false;
  };

  /** Show the buttons that fit the sign-in state. */
  const sync = () => {
    const signedIn = root.dataset.signin === "signed-in";
    /** @param {string} selector @param {boolean} shown */
    const show = (selector, shown) => {
      const el = /** @type {HTMLElement | null} */ (root.querySelector(selector));
      if (el) el.hidden = !shown;
    };
    show('[data-action="sign-in"]', !signedIn && root.dataset.signin !== "unavailable");
    show('[data-action="sign-out"]', signedIn);
    show(".access-checker__who", signedIn);
    show(".access-checker__signout", false);
    show('[data-action="start"]', root.dataset.state === "idle");
    const signInButton = root.querySelector('[data-action="sign-in"]');
    if (signInButton) signInButton.textContent = root.dataset.signin === "expired" ? "Sign in again" : "Sign in and check my access";
  };

  const bridge = {
    /** @param {string} text */
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
      sessionStorage.removeItem(CLAIMS_KEY);
      void signinModule?.then((m) => m.forgetTokens());
      api.assessment = null;
      if (root.dataset.signin === "signed-in") root.dataset.signin = "signed-out";
      sync();
    },
  };

  /** @param {unknown} error */
  const fail = (error) => {
    const known = error instanceof CheckerError;
    root.dataset.state = "error";
    root.dataset.error = known ? error.code : "boot_failed";
    tell(known ? error.message : `The checker could not start (${describe(error)}).`);
    announce("The access checker could not start.");
    sync();
    rejectReady?.(error);
  };

  /** Boot Pyodide and mount the Python widget; resolves once, shared by every caller. */
  const boot = () => {
    booting ??= (async () => {
      root.dataset.state = "loading";
      mark("boot");
      sync();
      let received = 0;
      // One failed download stops the others.
      const downloads = new AbortController();
      const report = () => announce(`Downloading the checker… ${(received / 1e6).toFixed(1)} MB`);
      // At most one progress update a frame: a text change per chunk (~200 of them) kept the
      // main thread busy, and the downloads ended at ~900 ms instead of ~250 ms (measured).
      // None comes after the downloads end (or fail): it would cover the next status.
      let frame = 0;
      let ended = false;
      const count = (/** @type {number} */ n) => {
        received += n;
        if (!ended) frame ||= requestAnimationFrame(() => { frame = 0; report(); });
      };
      report();
      const downloaded = Promise.all(
        bootFiles.map(([url, code]) => prefetch(url, code, count, downloads.signal, url === wheelUrl || url === policyUrl)),
      ).catch((error) => {
        downloads.abort();
        throw error;
      }).finally(() => {
        ended = true;
        cancelAnimationFrame(frame);
      });
      // Start Python while the files arrive rather than after: the runtime's own requests meet
      // ours in the HTTP cache, and the wasm compiles as it streams in.
      const started = import(runtime + "pyodide.mjs").then(
        ({ loadPyodide }) => loadPyodide({ indexURL: runtime, packages: [] }).catch((/** @type {unknown} */ e) => {
          throw new CheckerError("runtime_broken", `The Python runtime failed to start (${describe(e)}).`);
        }),
        () => { throw new CheckerError("runtime_missing", "The Python runtime of this site is missing or damaged."); },
      );
      started.catch(() => {}); // a missing file is reported by the downloads, with its own code
      const files = await downloaded;
      const wheelBytes = /** @type {Uint8Array} */ (files[bootFiles.findIndex(([url]) => url === wheelUrl)]);
      const policy = /** @type {Uint8Array} */ (files[bootFiles.findIndex(([url]) => url === policyUrl)]);
      mark("downloaded");
      announce("Starting Python…");
      // The timeout starts once the downloads are done: a strict CSP without
      // 'wasm-unsafe-eval' makes loadPyodide hang forever instead of failing.
      const pyodide = await within(
        Promise.race([started, rejectIfDamaged(runtime + "pyodide.asm.wasm", started, WASM_CHECK_AFTER_MS)]),
        bootTimeout,
        `The Python runtime did not start within ${bootTimeout} seconds (a browser extension or a strict security policy may block WebAssembly).`,
      );
      mark("python-started");
      announce("Loading the checker…");
      // The wheel goes on sys.path as it is, like the stdlib zip: zipimport takes the .pyc
      // beside each source without unpacking anything (measured: ready ~110 ms sooner cold).
      const wheelFile = `/lib/${wheelUrl.slice(wheelUrl.lastIndexOf("/") + 1)}`;
      pyodide.FS.writeFile(wheelFile, wheelBytes);
      pyodide.runPython(`import sys; sys.path.append(${JSON.stringify(wheelFile)})`);
      const pySettings = JSON.stringify({
        root: data(root, "root"), pagePattern: data(root, "pagePattern"), levelAnchors: data(root, "levelAnchors"),
      });
      let mod;
      try {
        mod = pyodide.pyimport("access_checker.web.app");
      } catch {
        throw new CheckerError("wheel_broken", "The checker's own package on this site is damaged, so the checker cannot start.");
      }
      mark("checker-imported");
      // Where Python took its code from, for tests and support: "bytecode" or "source".
      root.dataset.python = mod.code_origin();
      return /** @type {PyWidget} */ (mod.mount(app, policy, pySettings, bridge));
    })();
    return booting;
  };

  /**
   * Assess claims (null: not signed in) and publish the result on the root and the API.
   * @param {Promise<PyWidget>} widgetPromise @param {Record<string, unknown> | null} claims @param {number} expires
   */
  const show = async (widgetPromise, claims, expires) => {
    const widget = await widgetPromise;
    root.dataset.state = "loading";
    const assessment = JSON.parse(widget.show(claims ? JSON.stringify(claims) : null, expires));
    api.assessment = assessment;
    root.dataset.level = assessment.level;
    root.dataset.state = "ready";
    mark("ready");
    sessionStorage.setItem(USED_KEY, "1");
    announce(assessment.signed_in ? "Your access level is shown below." : "The checker is ready.");
    sync();
    resolveReady?.();
    return assessment;
  };

  /** A signed-in reader: keep the claims (never tokens) for this tab, until they expire. */
  const signedIn = (/** @type {Record<string, unknown>} */ claims, /** @type {number} */ expires) => {
    sessionStorage.setItem(CLAIMS_KEY, JSON.stringify({ claims, expires }));
    root.dataset.signin = "signed-in";
    const who = /** @type {HTMLElement | null} */ (root.querySelector(".access-checker__who"));
    if (who) who.textContent = `Signed in as ${displayName(typeof claims.name === "string" ? claims.name : String(claims.sub))}`;
    clearTimeout(expiryTimer);
    const left = expires * 1000 - Date.now();
    // setTimeout counts a 32-bit delay: longer than ~24 days would fire at once.
    if (left < 2 ** 31) expiryTimer = setTimeout(expire, Math.max(0, left));
  };

  const expire = () => {
    sessionStorage.removeItem(SUMMARY_KEY);
    sessionStorage.removeItem(CLAIMS_KEY);
    void signinModule?.then((m) => m.forgetTokens());
    root.dataset.signin = "expired";
    tell("Your sign-in has expired, so the level shown may be out of date. Sign in again to refresh it.");
    sync();
  };

  /** Claims kept from an earlier sign-in in this tab, while they are valid. */
  const keptClaims = () => {
    const kept = readJson(CLAIMS_KEY);
    if (kept && typeof kept.expires === "number" && kept.expires * 1000 > Date.now() && kept.claims) return kept;
    if (kept) sessionStorage.removeItem(CLAIMS_KEY);
    return null;
  };

  /**
   * A sign-in problem: say so and keep the page and the draft. A reader still signed in from
   * earlier in this tab stays so; anyone else gets the manual form.
   * @param {unknown} error
   */
  const signInFailed = async (error) => {
    const code = codeOf(error);
    root.dataset.error = code ?? "signin_failed";
    tell(code && error instanceof Error ? error.message : `Sign-in failed (${describe(error)}).`);
    const kept = keptClaims();
    if (kept) {
      signedIn(kept.claims, kept.expires);
      await show(boot(), kept.claims, kept.expires);
      return;
    }
    root.dataset.signin = code === "idp_down" ? "unavailable" : "error";
    sync();
    await show(boot(), null, 0);
  };

  const api = {
    ready,
    /** @type {Record<string, unknown> | null} */ assessment: null,
    /** What the start button does: check without signing in. */
    start: () => show(boot(), null, 0).catch(fail),
    /** What the sign-in button does: go to the provider (the page navigates away). */
    signIn: async () => {
      if (!settings) return;
      root.dataset.signin = "signing-in";
      delete root.dataset.error;
      message.hidden = true;
      try {
        await (await signin()).begin(settings);
      } catch (error) {
        await signInFailed(error).catch(fail);
      }
    },
    /** What "Sign out" does; the draft is discarded only when the reader says so. */
    signOut: async (/** @type {{ discardDraft?: boolean }} */ { discardDraft = false } = {}) => {
      if (discardDraft && booting) (await booting).discard_draft();
      clearTimeout(expiryTimer);
      sessionStorage.removeItem(SUMMARY_KEY);
      sessionStorage.removeItem(CLAIMS_KEY);
      sessionStorage.removeItem(USED_KEY);
      root.dataset.signin = "signed-out";
      delete root.dataset.error;
      sync();
      if (settings) {
        let ended = false;
        try {
          ended = await (await signin()).end(settings);
        } catch (error) {
          root.dataset.error = codeOf(error) ?? "idp_down";
        }
        if (!ended) tell("You are signed out on this page, but the sign-in service could not be reached to end its session.");
      }
      if (booting) await show(booting, null, 0);
    },
  };
  Object.defineProperty(window, "accessChecker", { value: api, configurable: false });

  /** @param {Event} event */
  const onIntent = (event) => {
    const action = /** @type {HTMLElement} */ (event.target).closest?.("[data-action]")?.getAttribute("data-action");
    if (action === "start" || action === "sign-in") preload();
  };
  root.addEventListener("pointerover", onIntent);
  root.addEventListener("focusin", onIntent);

  root.addEventListener("click", (event) => {
    const target = /** @type {HTMLElement} */ (event.target);
    switch (target.closest("[data-action]")?.getAttribute("data-action")) {
      case "start": void api.start(); break;
      case "sign-in": void api.signIn(); break;
      case "sign-out": {
        const choice = /** @type {HTMLElement | null} */ (root.querySelector(".access-checker__signout"));
        if (choice) choice.hidden = false;
        /** @type {HTMLElement | null} */ (choice?.querySelector("button"))?.focus();
        break;
      }
      case "sign-out-keep": void api.signOut({ discardDraft: false }); break;
      case "sign-out-discard": void api.signOut({ discardDraft: true }); break;
    }
  });

  sync();
  const stored = keptClaims();
  if (settings && isCallback()) {
    // Back from the provider: boot Python while the code is exchanged, not after.
    root.dataset.signin = "signing-in";
    const widget = boot();
    widget.catch(fail);
    signin().then((m) => m.complete(settings)).then(
      async ({ claims, expires, notes }) => {
        signedIn(claims, expires);
        await show(widget, claims, expires);
        if (notes.length) announce(notes.join(" "));
      },
      signInFailed,
    ).catch(fail);
  } else if (stored) {
    // Same tab, later visit: re-evaluate the kept claims without signing in again.
    signedIn(stored.claims, stored.expires);
    void show(boot(), stored.claims, stored.expires).catch(fail);
  } else {
    // Later visits in the same tab, once the reader has used the checker, start by themselves.
    if (sessionStorage.getItem(USED_KEY)) void api.start();
  }
}
