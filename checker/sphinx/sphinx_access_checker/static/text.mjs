// @ts-check
/**
 * Untrusted text shown as plain text: the page's copy of display() in the checker's Python
 * (access_checker/text.py), for what the page shows before Python runs. The two cannot share
 * code, so they share test cases: tests/unit/vectors/text.json.
 */

// What a one-line field refuses (controls, line and paragraph separators, text-direction
// controls, lone surrogates); several lines allow tab and line feed. The `u` flag makes the
// surrogate range match only a half pair.
const LINE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]/gu;
const PARAGRAPHS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]/gu;

/**
 * The text with each refused character as U+FFFD, cut to `limit` code points (the last one
 * an ellipsis).
 * @param {string} text
 * @param {{ multiline?: boolean, limit?: number }} [options]
 * @returns {string}
 */
export function display(text, { multiline = false, limit = Infinity } = {}) {
  const chars = [...text.replace(multiline ? PARAGRAPHS : LINE, "\ufffd")];
  return chars.length > limit ? `${chars.slice(0, limit - 1).join("")}…` : chars.join("");
}
