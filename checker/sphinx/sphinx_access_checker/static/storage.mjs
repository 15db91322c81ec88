// @ts-check
/**
 * The one owner of the checker's browser storage: every key, where it lives and how long.
 *
 * | key                           | storage | holds                                   | until                 |
 * |-------------------------------|---------|-----------------------------------------|-----------------------|
 * | access-checker:draft:<sub>    | local   | a request draft, per account            | 30 days, or discarded |
 * | access-checker:summary        | session | the token-free summary boxes.mjs reads  | the sign-in expires   |
 * | access-checker:claims         | session | the merged claims (never tokens)        | the sign-in expires   |
 * | access-checker:used           | session | "used in this tab": later visits start  | sign-out, forget      |
 * | access-checker:signin         | session | PKCE verifier, state, nonce             | the callback is read  |
 *
 * Python (in the worker) decides what to keep and asks for it in its replies; this module
 * carries it out. A browser with storage disabled throws on every access: each function then
 * does nothing (reads give nothing), and the checker works for this page view.
 */

const PREFIX = "access-checker:";
export const SUMMARY_KEY = `${PREFIX}summary`;
export const SIGNIN_KEY = `${PREFIX}signin`;
const CLAIMS_KEY = `${PREFIX}claims`;
const USED_KEY = `${PREFIX}used`;
const DRAFT_PREFIX = `${PREFIX}draft:`;
/** How long a draft is kept (the privacy note in the widget says so: the worker is told). */
export const DRAFT_DAYS = 30;
const DRAFT_VERSION = 1;

/** @template T @param {() => T} action @param {T} otherwise @returns {T} */
function guarded(action, otherwise) {
  try {
    return action();
  } catch {
    return otherwise;
  }
}

/** @param {Storage} store @param {string} key @returns {unknown} */
function readJson(store, key) {
  return guarded(() => JSON.parse(store.getItem(key) ?? "null"), null);
}

/** @typedef {{ claims: Record<string, unknown>, expires: number }} KeptClaims */
/** @typedef {{ id: string, fields: Record<string, unknown> }} Draft */

/** The summary other pages read, or its removal (null). @param {Record<string, unknown> | null} value */
export function setSummary(value) {
  guarded(() => value ? sessionStorage.setItem(SUMMARY_KEY, JSON.stringify(value)) : sessionStorage.removeItem(SUMMARY_KEY), undefined);
}

/** Claims from an earlier sign-in in this tab, while they are valid (expired ones go). @returns {KeptClaims | null} */
export function keptClaims() {
  const kept = /** @type {any} */ (readJson(sessionStorage, CLAIMS_KEY));
  if (kept && typeof kept.expires === "number" && kept.expires * 1000 > Date.now() && kept.claims) return kept;
  if (kept) forgetSignIn();
  return null;
}

/** @param {Record<string, unknown>} claims @param {number} expires */
export function keepClaims(claims, expires) {
  guarded(() => sessionStorage.setItem(CLAIMS_KEY, JSON.stringify({ claims, expires })), undefined);
}

/** The sign-in's traces, at sign-out or expiry: the summary and the claims. */
export function forgetSignIn() {
  guarded(() => { sessionStorage.removeItem(SUMMARY_KEY); sessionStorage.removeItem(CLAIMS_KEY); }, undefined);
}

export const wasUsed = () => guarded(() => sessionStorage.getItem(USED_KEY) !== null, false);
export const markUsed = () => guarded(() => sessionStorage.setItem(USED_KEY, "1"), undefined);
export const forgetUsed = () => guarded(() => sessionStorage.removeItem(USED_KEY), undefined);

/**
 * Every stored draft still within its lifetime, by account subject (expired ones are removed).
 * @param {number} [now] epoch milliseconds
 * @returns {Record<string, Draft>}
 */
export function drafts(now = Date.now()) {
  /** @type {Record<string, Draft>} */ const found = {};
  const keys = guarded(() => Object.keys(localStorage).filter((k) => k.startsWith(DRAFT_PREFIX)), /** @type {string[]} */ ([]));
  for (const key of keys) {
    const draft = /** @type {any} */ (readJson(localStorage, key));
    const fresh = draft && draft.version === DRAFT_VERSION && typeof draft.saved === "number"
      && now / 1000 - draft.saved <= DRAFT_DAYS * 86400 && typeof draft.id === "string";
    if (fresh) found[key.slice(DRAFT_PREFIX.length)] = { id: draft.id, fields: draft.fields };
    else guarded(() => localStorage.removeItem(key), undefined);
  }
  return found;
}

/**
 * Write a draft at once (as the reader types). False when the browser refused (quota, disabled).
 * @param {string} subject @param {string} id @param {Record<string, unknown>} fields
 */
export function saveDraft(subject, id, fields) {
  const text = JSON.stringify({ version: DRAFT_VERSION, saved: Math.floor(Date.now() / 1000), id, fields });
  return guarded(() => { localStorage.setItem(DRAFT_PREFIX + subject, text); return true; }, false);
}

/** @param {string} subject */
export function removeDraft(subject) {
  guarded(() => localStorage.removeItem(DRAFT_PREFIX + subject), undefined);
}

/** "Forget my data": every key of the checker, in both storages. */
export function forgetAll() {
  for (const name of /** @type {const} */ (["localStorage", "sessionStorage"])) {
    guarded(() => {
      const store = globalThis[name];
      for (const key of Object.keys(store)) if (key.startsWith(PREFIX)) store.removeItem(key);
    }, undefined);
  }
}

/**
 * Carry out what the worker asks for in a reply.
 * @param {{ op: string, value?: Record<string, unknown> | null, subject?: string }} request
 */
export function perform(request) {
  if (request.op === "summary") setSummary(request.value ?? null);
  else if (request.op === "draft-remove" && typeof request.subject === "string") removeDraft(request.subject);
  else if (request.op === "forget") forgetAll();
}
