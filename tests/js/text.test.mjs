// The page's display() against the cases the Python core passes too (node:test): `node --test tests/js/`.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { display } from "../../checker/sphinx/sphinx_access_checker/static/text.mjs";

const vectors = JSON.parse(readFileSync(new URL("../unit/vectors/text.json", import.meta.url), "utf8"));

test("there are cases for both modes and for the limit", () => {
  const cases = vectors.display;
  assert.ok(cases.some((/** @type {any} */ c) => c.multiline) && cases.some((/** @type {any} */ c) => !c.multiline));
  assert.ok(cases.some((/** @type {any} */ c) => c.limit !== undefined));
});

for (const { why, text, multiline, limit, shown } of vectors.display) {
  test(`display: ${why}`, () => {
    assert.equal(display(text, { multiline, limit }), shown);
  });
}
