// @ts-check
/**
 * The access checker's loader on the page. It starts the checker's Web Worker (Python runs
 * there, never on this thread), shows the boot's progress and failures, runs the sign-in,
 * forwards the reader's events to the worker and patches its replies into the page. It holds
 * no access rules and no words of the booted widget: those come from the Python views.
 *
 * Contract (maintainers' page "How the checker works"): the root [data-access-checker] carries
 * data-state, data-level, data-signin, data-error and data-python; window.accessChecker offers
 * ready, start(), signIn(), signOut() and assessment.
 */

import { chrome, download } from "./chrome.mjs";
import { CheckerError, codeOf, connect, describe } from "./connection.mjs";
import { formValues } from "./protocol.mjs";
import { patch } from "./render.mjs";
import * as storage from "./storage.mjs";

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

/**
 * The boot's phases as User Timing marks on the page's timeline (DevTools shows them; the
 * benchmarks read them). The worker reports each phase as it reaches it.
 * @param {string} name boot, downloaded, python-started, checker-imported or ready
 */
const mark = (name) => { performance.mark(`access-checker:${name}`); };

/** The status line while the reader waits for each phase. */
const PHASE_TEXT = /** @type {Record<string, string>} */ ({
  downloaded: "Starting Python…", "python-started": "Loading the checker…", "checker-imported": "Loading the checker…",
});

const root = /** @type {HTMLElement | null} */ (document.querySelector("[data-access-checker]"));

/** @param {HTMLElement} el @param {string} name */
const data = (el, name) => el.dataset[name] ?? "";

if (root) {
  const app = /** @type {HTMLElement} */ (root.querySelector(".access-checker__app"));
  const { announce, tell, clear, sync } = chrome(root);
  const siteRoot = new URL(data(root, "root"), location.href);
  const absolute = (/** @type {string} */ name) => new URL(data(root, name), location.href).href;
  /** @type {import("./signin.mjs").Settings | null} */
  const settings = data(root, "clientId")
    ? {
      issuer: new URL(data(root, "issuer")),
      clientId: data(root, "clientId"),
      scopes: data(root, "scopes"),
      redirectUri: new URL(data(root, "redirectPage"), siteRoot).href,
      postLogoutUri: new URL(data(root, "postLogoutPage"), siteRoot).href,
    }
    : null;
  const init = {
    runtime: absolute("runtime"), wheel: absolute("wheel"), policy: absolute("policy"), lock: data(root, "runtimeLock"),
    settings: { root: data(root, "root"), pagePattern: data(root, "pagePattern"), levelAnchors: data(root, "levelAnchors"),
      draftDays: storage.DRAFT_DAYS },
  };

  /** @type {((value: void) => void) | undefined} */ let resolveReady;
  /** @type {((reason: unknown) => void) | undefined} */ let rejectReady;
  /** @type {Promise<void>} */
  const ready = new Promise((resolve, reject) => { resolveReady = resolve; rejectReady = reject; });
  ready.catch(() => {}); // the page reports failures itself; this only silences "unhandled"

  /** @type {Promise<ReturnType<typeof connect>> | null} */ let booting = null;
  /** @type {ReturnType<typeof connect> | null} */ let worker = null;
  /** Where the form's draft is saved, from the worker's last word on it. @type {{ subject: string, id: string, unsaved: string } | null} */
  let draft = null;
  /** The prepared request's texts, for copy and download within the reader's click. @type {any} */
  let outputs = null;
  /** The last claims shown, for a restart after a crash. */
  let shown = { claims: /** @type {Record<string, unknown> | null} */ (null), expires: 0 };
  let progress = "";
  /** @type {ReturnType<typeof setTimeout> | undefined} */ let expiryTimer;

  const waiting = () => root.dataset.state === "loading";
  /** @param {string} text */
  const report = (text) => { progress = text; if (waiting()) announce(text); };

  /** @param {unknown} error */
  const fail = (error) => {
    const known = error instanceof CheckerError;
    root.dataset.state = "error";
    root.dataset.error = known ? error.code : "boot_failed";
    if (known && error.code === "worker_crashed") {
      const restart = document.createElement("button");
      restart.type = "button";
      restart.dataset.action = "restart";
      restart.textContent = "Restart the checker";
      tell("The checker stopped working. Your request draft is kept in this browser.", " ", restart);
      announce("The access checker stopped working.");
    } else {
      tell(known ? error.message : `The checker could not start (${describe(error)}).`);
      announce("The access checker could not start.");
    }
    sync();
    rejectReady?.(error);
  };

  /** Start the worker and Python in it; resolves once, shared by every caller. */
  const boot = () => {
    booting ??= (async () => {
      mark("boot");
      let frame = 0;
      let received = 0;
      report("Downloading the checker… 0.0 MB");
      const connection = connect(new URL("./worker.mjs", import.meta.url), init, {
        bootTimeout: Number(data(root, "bootTimeout")) || 60,
        // At most one status change a frame, and none once the downloads are done.
        progress: (n) => {
          received = n;
          frame ||= requestAnimationFrame(() => { frame = 0; report(`Downloading the checker… ${(received / 1e6).toFixed(1)} MB`); });
        },
        phase: (name) => { mark(name); cancelAnimationFrame(frame); frame = 0; report(PHASE_TEXT[name] ?? progress); },
        crash: (error) => { booting = null; worker = null; fail(error); },
      });
      root.dataset.python = await connection.booted;
      worker = connection;
      return connection;
    })();
    return booting;
  };

  /** Apply a reply of the worker: patches, storage, texts, focus. @param {import("./connection.mjs").Reply} reply */
  const apply = (reply) => {
    for (const [name, trees] of Object.entries(reply.slots ?? {})) {
      const place = root.querySelector(`[data-slot="${name}"]`);
      if (place) patch(place, trees);
    }
    for (const request of reply.storage ?? []) storage.perform(request);
    if (reply.storage?.some((/** @type {{ op: string }} */ r) => r.op === "forget")) forgotten();
    if ("draft" in reply) draft = reply.draft;
    if ("outputs" in reply) outputs = reply.outputs;
    if (reply.announce) announce(reply.announce);
    if (reply.focus) /** @type {HTMLElement | null} */ (app.querySelector(reply.focus))?.focus();
  };

  /** Everything of the sign-in is gone from this browser ("Forget my data"). */
  const forgotten = () => {
    void signinModule?.then((m) => m.forgetTokens());
    api.assessment = null;
    if (root.dataset.signin === "signed-in") root.dataset.signin = "signed-out";
    sync();
  };

  /**
   * Assess claims (null: not signed in) and show the result.
   * @param {Record<string, unknown> | null} claims @param {number} expires
   */
  const show = async (claims, expires) => {
    root.dataset.state = "loading";
    sync();
    if (!worker) announce(progress);
    const connection = await boot();
    shown = { claims, expires };
    const reply = await connection.send("show", { claims, expires, drafts: storage.drafts() });
    apply(reply);
    api.assessment = reply.assessment;
    root.dataset.level = reply.assessment.level;
    root.dataset.state = "ready";
    mark("ready");
    storage.markUsed();
    sync();
    resolveReady?.();
  };

  /** A signed-in reader: keep the claims (never tokens) for this tab, until they expire. */
  const signedIn = (/** @type {Record<string, unknown>} */ claims, /** @type {number} */ expires) => {
    storage.keepClaims(claims, expires);
    root.dataset.signin = "signed-in";
    clearTimeout(expiryTimer);
    const left = expires * 1000 - Date.now();
    // setTimeout counts a 32-bit delay: longer than ~24 days would fire at once.
    if (left < 2 ** 31) expiryTimer = setTimeout(expire, Math.max(0, left));
  };

  const expire = () => {
    storage.forgetSignIn();
    void signinModule?.then((m) => m.forgetTokens());
    root.dataset.signin = "expired";
    tell("Your sign-in has expired, so the level shown may be out of date. Sign in again to refresh it.");
    sync();
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
    const kept = storage.keptClaims();
    if (kept) {
      signedIn(kept.claims, kept.expires);
      await show(kept.claims, kept.expires);
      return;
    }
    root.dataset.signin = code === "idp_down" ? "unavailable" : "error";
    sync();
    await show(null, 0);
  };

  const api = {
    ready,
    /** @type {Record<string, unknown> | null} */ assessment: null,
    /** Resolves once the worker has answered every message so far and the page shows it. */
    settled: () => worker?.settled() ?? Promise.resolve(),
    /** What the start button does: check without signing in. */
    start: () => show(null, 0).catch(fail),
    /** What the sign-in button does: go to the provider (the page navigates away). */
    signIn: async () => {
      if (!settings) return;
      root.dataset.signin = "signing-in";
      delete root.dataset.error;
      clear();
      try {
        await (await signin()).begin(settings);
      } catch (error) {
        await signInFailed(error).catch(fail);
      }
    },
    /** What "Sign out" does; the draft is discarded only when the reader says so. */
    signOut: async (/** @type {{ discardDraft?: boolean }} */ { discardDraft = false } = {}) => {
      if (discardDraft && worker) apply(await worker.send("action", { action: "discard" }));
      clearTimeout(expiryTimer);
      storage.forgetSignIn();
      storage.forgetUsed();
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
      if (worker) await show(null, 0);
    },
  };
  Object.defineProperty(window, "accessChecker", { value: api, configurable: false });

  /**
   * Intent to use the checker (pointer resting on, or focus reaching, a start or sign-in
   * button): start the worker, which downloads and starts Python off this thread.
   * @param {Event} event
   */
  const onIntent = (event) => {
    const action = /** @type {HTMLElement} */ (event.target).closest?.("[data-action]")?.getAttribute("data-action");
    if (action !== "start" && action !== "sign-in") return;
    if (action === "sign-in") void signin().catch(() => {});
    void boot().catch(() => {}); // a failure is reported when the reader asks for the checker
  };
  root.addEventListener("pointerover", onIntent);
  root.addEventListener("focusin", onIntent);

  root.addEventListener("click", (event) => {
    const target = /** @type {HTMLElement} */ (event.target).closest("[data-action], [data-output]");
    switch (target?.getAttribute("data-action") ?? `output:${target?.getAttribute("data-output")}`) {
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
      case "restart":
        booting = null; // a worker that died while starting left a failed boot behind
        worker = null;
        delete root.dataset.error;
        clear();
        void show(shown.claims, shown.expires).catch(fail);
        break;
      case "discard": case "forget":
        worker?.send("action", { action: target?.getAttribute("data-action") }).then(apply, () => {});
        break;
      case "output:copy":
        navigator.clipboard.writeText(outputs.copy.text).then(() => announce(outputs.copy.done), () => announce(outputs.copy.blocked));
        break;
      case "output:download":
        download(outputs.download.filename, outputs.download.text);
        announce(outputs.download.done);
        break;
    }
  });

  // The form: the page saves the draft at once (a reload right after a keystroke loses
  // nothing) and asks the worker what the form should show.
  /** @param {"input" | "blur" | "submit"} type @param {Record<string, unknown>} [extra] */
  const forward = (type, extra = {}) => {
    const form = /** @type {HTMLFormElement | null} */ (app.querySelector("form"));
    if (!form || !worker) return;
    const values = formValues(form);
    if (type !== "blur" && draft && !storage.saveDraft(draft.subject, draft.id, values)) announce(draft.unsaved);
    worker.send(type, { values, ...extra }).then(apply, () => {}); // a crash is reported by itself
  };
  app.addEventListener("input", () => forward("input"));
  app.addEventListener("focusout", (event) => {
    const name = /** @type {HTMLElement} */ (event.target).closest?.("form [name]")?.getAttribute("name");
    if (name) forward("blur", { name });
  });
  app.addEventListener("submit", (event) => { event.preventDefault(); forward("submit"); });

  sync();
  const stored = storage.keptClaims();
  if (settings && isCallback()) {
    // Back from the provider: start the worker while the code is exchanged, not after.
    root.dataset.signin = "signing-in";
    boot().catch(() => {});
    signin().then((m) => m.complete(settings)).then(
      async ({ claims, expires, notes }) => {
        signedIn(claims, expires);
        await show(claims, expires);
        if (notes.length) announce(notes.join(" "));
      },
      signInFailed,
    ).catch(fail);
  } else if (stored) {
    // Same tab, later visit: re-evaluate the kept claims without signing in again.
    signedIn(stored.claims, stored.expires);
    void show(stored.claims, stored.expires).catch(fail);
  } else if (storage.wasUsed()) {
    // Later visits in the same tab, once the reader has used the checker, start by themselves.
    void api.start();
  }
}
