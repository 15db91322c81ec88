// @ts-check
/**
 * The page's side of the worker protocol (the schema: access_checker/web/protocol.schema.json;
 * the maintainers' page "How the checker works" explains it). The worker's side is
 * access_checker/web/session.py.
 *
 * Page → worker: init, then show, input, blur, submit and action, each with an id.
 * Worker → page: progress, phase, booted and failed while booting; then one render reply per
 * message (same id), or crashed.
 */

export const PROTOCOL = 1;

/** @typedef {Record<string, string | string[] | boolean>} FormValues */

/**
 * What the form's controls hold, by field (each field's container says its kind).
 * @param {HTMLFormElement} form
 * @returns {FormValues}
 */
export function formValues(form) {
  /** @type {FormValues} */ const values = {};
  for (const field of form.querySelectorAll("[data-field]")) {
    const name = field.getAttribute("data-field") ?? "";
    const kind = field.getAttribute("data-kind");
    const controls = /** @type {NodeListOf<HTMLInputElement | HTMLTextAreaElement>} */ (
      field.querySelectorAll(`[name="${CSS.escape(name)}"]`));
    if (kind === "checkboxes") {
      values[name] = [...controls].filter((c) => c instanceof HTMLInputElement && c.checked).map((c) => c.value);
    } else if (kind === "checkbox") {
      values[name] = controls[0] instanceof HTMLInputElement && controls[0].checked;
    } else {
      values[name] = controls[0]?.value ?? "";
    }
  }
  return values;
}

/**
 * A message to the worker.
 * @param {"show" | "input" | "blur" | "submit" | "action"} type @param {number} id
 * @param {Record<string, unknown>} body
 */
export const message = (type, id, body) => ({ v: PROTOCOL, type, id, ...body });
