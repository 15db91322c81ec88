// @ts-check
/**
 * The page's end of the checker's worker: starts it, follows its boot, sends messages and
 * matches each reply to its message, and notices when the worker is gone.
 *
 * Failures, each with its data-error code: ``worker_missing`` (the worker's script did not
 * load: the worker reports an error before saying anything), the codes the worker reports
 * while booting (runtime_missing, runtime_broken, wheel_missing, …), ``boot_timeout`` (no
 * Python within the bound after the downloads: a CSP that blocks WebAssembly makes Pyodide
 * hang rather than fail) and ``worker_crashed`` (an error, a crash report or no reply once
 * it was running).
 */

import { message, PROTOCOL } from "./protocol.mjs";

/** How long a reply may take before the worker counts as gone (Python answers in milliseconds). */
const REPLY_BOUND_MS = 20_000;

/** A failure with a stable code for data-error and a message for the reader. */
export class CheckerError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** A failure's stable code, for data-error (CheckerError and SignInError both carry one). @param {unknown} error */
export function codeOf(error) {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : null;
}

/** An error as words for the reader. @param {unknown} error */
export const describe = (error) => (error instanceof Error ? error.message : String(error));

const crashed = () => new CheckerError("worker_crashed", "The checker stopped working.");

/**
 * @typedef {{ v: number, type: string, id?: number | null, [key: string]: any }} Reply
 * @typedef {{
 *   progress(received: number): void, phase(name: string): void, crash(error: CheckerError): void,
 *   bootTimeout: number,
 * }} Hooks
 */

/**
 * Start the worker and its boot.
 * @param {URL} script @param {Record<string, unknown>} init @param {Hooks} hooks
 */
export function connect(script, init, hooks) {
  const worker = new Worker(script, { type: "module" });
  let heard = false;
  let dead = false;
  let nextId = 1;
  /** @type {Map<number, { resolve(reply: Reply): void, reject(error: unknown): void, timer: ReturnType<typeof setTimeout> }>} */
  const pending = new Map();
  /** Each message's reply, settled or not, until it is in. @type {Set<Promise<void>>} */
  const inflight = new Set();
  /** @type {(python: string) => void} */ let resolveBoot = () => {};
  /** @type {(error: CheckerError) => void} */ let rejectBoot = () => {};
  /** Resolves with where Python took its code from ("bytecode" or "source"). @type {Promise<string>} */
  const booted = new Promise((resolve, reject) => { resolveBoot = resolve; rejectBoot = reject; });
  booted.catch(() => {}); // whoever awaits it reports the failure
  let isBooted = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */ let bootTimer;

  /** @param {CheckerError} error */
  const die = (error) => {
    if (dead) return;
    dead = true;
    clearTimeout(bootTimer);
    worker.terminate();
    for (const { reject, timer } of pending.values()) { clearTimeout(timer); reject(error); }
    pending.clear();
    if (isBooted) hooks.crash(error);
    else rejectBoot(error);
  };

  worker.addEventListener("error", (event) => {
    event.preventDefault(); // reported below, with words for the reader
    die(heard || isBooted ? crashed()
      : new CheckerError("worker_missing", "A file the checker needs is missing on this site (its worker script did not load)."));
  });
  worker.addEventListener("messageerror", () => die(crashed()));
  worker.addEventListener("message", (/** @type {MessageEvent<Reply>} */ { data }) => {
    heard = true;
    if (dead || data?.v !== PROTOCOL) return;
    switch (data.type) {
      case "progress": hooks.progress(data.received); break;
      case "phase":
        hooks.phase(data.name);
        // The bound starts once the files are here: a download's time depends on the link.
        if (data.name === "downloaded") {
          bootTimer = setTimeout(() => die(new CheckerError("boot_timeout",
            `The Python runtime did not start within ${hooks.bootTimeout} seconds (a browser extension or a strict security policy may block WebAssembly).`)),
          hooks.bootTimeout * 1000);
        }
        break;
      case "booted": clearTimeout(bootTimer); isBooted = true; resolveBoot(data.python); break;
      case "failed": die(new CheckerError(data.code, data.message)); break;
      case "crashed": die(crashed()); break;
      default: {
        const waiting = pending.get(data.id ?? -1);
        if (!waiting) return;
        pending.delete(data.id ?? -1);
        clearTimeout(waiting.timer);
        waiting.resolve(data);
      }
    }
  });
  worker.postMessage({ v: PROTOCOL, type: "init", ...init });

  return {
    booted,
    /**
     * Send a message; resolves with its reply.
     * @param {Parameters<typeof message>[0]} type @param {Record<string, unknown>} body
     * @returns {Promise<Reply>}
     */
    send(type, body) {
      if (dead) return Promise.reject(crashed());
      const id = nextId++;
      /** @type {Promise<Reply>} */
      const reply = new Promise((resolve, reject) => {
        const timer = setTimeout(() => die(crashed()), REPLY_BOUND_MS);
        pending.set(id, { resolve, reject, timer });
        worker.postMessage(message(type, id, body));
      });
      const done = reply.then(() => {}, () => {});
      inflight.add(done);
      void done.then(() => inflight.delete(done));
      return reply;
    },
    /** Resolves once every message sent so far has its reply applied (or the worker is gone). */
    settled() {
      // A task later: the senders' own handlers (applying the replies) have run by then.
      return Promise.all(inflight).then(() => new Promise((resolve) => { setTimeout(resolve); }));
    },
    /** Stop the worker for good (a restart makes a new one). */
    close() { dead = true; clearTimeout(bootTimer); worker.terminate(); },
  };
}
