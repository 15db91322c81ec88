// @ts-check
/**
 * Requirement boxes, personalised: after an assessment in this tab, each "Requirements" box
 * (.access-requirement.access-feature-<id>) says whether the reader has that feature.
 *
 * It holds no access rules: it looks the feature up in the token-free summary that the widget
 * left in sessionStorage (maintainers, "How the checker works"). Words and links come from the built page:
 * the level's name and page from the box's own link to the level's section, project names
 * from <meta name="access-checker-projects" content='{"<id>": "<name>", …}'> (ids if absent).
 * With no usable summary (none, unparsable, another version or policy, expired) the boxes
 * stay as built; an expired summary is removed.
 */

import { SUMMARY_KEY } from "./storage.mjs";

const FEATURE_CLASS = "access-feature-";

/** @typedef {{ allowed: boolean, projects: string[] }} FeatureVerdict */
/** @typedef {{ version: 1, policy: string, features: Record<string, unknown>, expires: number }} Summary */

/** @param {unknown} value @returns {value is Record<string, unknown>} */
const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The stored summary if it is usable now, and whether it should be removed (expired).
 * @param {string | null} text the stored JSON text
 * @param {number} now epoch seconds
 * @param {string | null} [policy] the policy version the page was built from, when it says
 * @returns {{ summary: Summary | null, expired: boolean }}
 */
export function readSummary(text, now, policy) {
  const none = { summary: null, expired: false };
  if (!text) return none;
  /** @type {unknown} */ let value;
  try {
    value = JSON.parse(text);
  } catch {
    return none;
  }
  if (!isObject(value) || value.version !== 1 || typeof value.expires !== "number" || !isObject(value.features)) {
    return none;
  }
  if (value.expires <= now) return { summary: null, expired: true };
  if (policy && value.policy !== policy) return none;
  return { summary: /** @type {Summary} */ (value), expired: false };
}

/**
 * The verdict for one feature, or null when the summary does not know it.
 * @param {Summary} summary @param {string} feature
 * @returns {FeatureVerdict | null}
 */
export function verdictFor(summary, feature) {
  const entry = Object.hasOwn(summary.features, feature) ? summary.features[feature] : null;
  if (!isObject(entry) || typeof entry.allowed !== "boolean" || !Array.isArray(entry.projects)) return null;
  return { allowed: entry.allowed, projects: entry.projects.filter((p) => typeof p === "string") };
}

/**
 * "AI4EOSC, iMagine": display names where known, ids otherwise.
 * @param {string[]} ids @param {Record<string, unknown>} names
 */
export function projectList(ids, names) {
  return ids.map((id) => {
    const name = Object.hasOwn(names, id) ? names[id] : null;
    return typeof name === "string" && name ? name : id;
  }).join(", ");
}

/** @returns {Record<string, unknown>} */
function projectNames() {
  const content = document.querySelector('meta[name="access-checker-projects"]')?.getAttribute("content");
  try {
    const names = JSON.parse(content ?? "{}");
    return isObject(names) ? names : {};
  } catch {
    return {};
  }
}

/** @param {Element} box @param {FeatureVerdict} verdict @param {Record<string, unknown>} names */
function mark(box, verdict, names) {
  const line = document.createElement("p");
  line.className = "access-verdict";
  line.setAttribute("role", "status");
  if (verdict.allowed) {
    const where = verdict.projects.length ? ` (in ${projectList(verdict.projects, names)})` : "";
    line.textContent = `You have access${where}.`;
  } else {
    // The box links to the section of the level it needs: reuse its words and its page.
    const level = box.querySelector('a.reference[href*="#"]');
    const href = level?.getAttribute("href");
    const name = level?.textContent?.trim();
    if (!href || !name) return;
    const upgrade = document.createElement("a");
    // Written by the build, relative to this page: the section that says how to upgrade.
    upgrade.href = document.querySelector('meta[name="access-checker-upgrade"]')?.getAttribute("content") ?? href;
    upgrade.textContent = "see how to upgrade";
    line.append(`You need the ${name} for this: `, upgrade, ".");
  }
  box.setAttribute("data-verdict", verdict.allowed ? "allowed" : "denied");
  box.append(line);
}

/** Mark every box from the summary; idempotent (a page restored from the bfcache reruns it). */
function render() {
  const boxes = document.querySelectorAll(".access-requirement");
  for (const box of boxes) {
    box.removeAttribute("data-verdict");
    for (const old of box.querySelectorAll(".access-verdict")) old.remove();
  }
  /** @type {string | null} */ let text;
  try {
    text = sessionStorage.getItem(SUMMARY_KEY);
  } catch {
    return; // storage disabled: the boxes stay as built
  }
  const policy = document.querySelector('meta[name="access-checker-policy"]')?.getAttribute("content");
  const { summary, expired } = readSummary(text, Date.now() / 1000, policy);
  if (expired) sessionStorage.removeItem(SUMMARY_KEY);
  if (!summary) return;
  const names = projectNames();
  for (const box of boxes) {
    const feature = [...box.classList].find((c) => c.startsWith(FEATURE_CLASS))?.slice(FEATURE_CLASS.length);
    const verdict = feature ? verdictFor(summary, feature) : null;
    if (verdict) mark(box, verdict, names);
  }
}

if (typeof document !== "undefined") {
  render();
  addEventListener("pageshow", (event) => { if (event.persisted) render(); });
}
