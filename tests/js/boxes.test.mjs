// Unit tests of the box script's pure parts (no DOM): `node --test tests/js/`.
// The page behaviour itself is tested in Chromium: tests/e2e/test_boxes.py.
import assert from "node:assert/strict";
import { test } from "node:test";

import { projectList, readSummary, verdictFor } from "../../checker/sphinx/sphinx_access_checker/static/boxes.mjs";

const NOW = 1_700_000_000;
const good = {
  version: 1, policy: "7cc5aae6905d6292", level: "full",
  projects: { ai4eosc: "basic", imagine: "full", ai4life: "basic" },
  features: { train: { allowed: true, projects: ["imagine"] }, storage: { allowed: false, projects: [] } },
  expires: NOW + 60,
};

test("a valid summary is read; nothing stored means nothing to do", () => {
  assert.deepEqual(readSummary(JSON.stringify(good), NOW).summary, good);
  assert.deepEqual(readSummary(null, NOW), { summary: null, expired: false });
  assert.deepEqual(readSummary("", NOW), { summary: null, expired: false });
});

test("unparsable, other versions and malformed summaries are ignored, not removed", () => {
  for (const text of ["{oops", "[]", "null", "42", JSON.stringify({ ...good, version: 2 }),
    JSON.stringify({ ...good, expires: "soon" }), JSON.stringify({ ...good, features: [] })]) {
    assert.deepEqual(readSummary(text, NOW), { summary: null, expired: false }, text);
  }
});

test("an expired summary is reported for removal", () => {
  assert.deepEqual(readSummary(JSON.stringify({ ...good, expires: NOW }), NOW), { summary: null, expired: true });
  assert.deepEqual(readSummary(JSON.stringify({ ...good, expires: NOW - 1 }), NOW), { summary: null, expired: true });
});

test("a summary made with another policy than the page's is ignored", () => {
  assert.equal(readSummary(JSON.stringify(good), NOW, "0000000000000000").summary, null);
  assert.deepEqual(readSummary(JSON.stringify(good), NOW, good.policy).summary, good);
  assert.deepEqual(readSummary(JSON.stringify(good), NOW, null).summary, good);
});

test("verdicts are looked up, never inherited or guessed", () => {
  assert.deepEqual(verdictFor(good, "train"), { allowed: true, projects: ["imagine"] });
  assert.deepEqual(verdictFor(good, "storage"), { allowed: false, projects: [] });
  assert.equal(verdictFor(good, "llm"), null);
  assert.equal(verdictFor(good, "constructor"), null);
  assert.equal(verdictFor({ ...good, features: { train: { allowed: "yes", projects: [] } } }, "train"), null);
});

test("project names come from the page, ids otherwise", () => {
  assert.equal(projectList(["ai4eosc", "imagine"], { ai4eosc: "AI4EOSC", imagine: "iMagine" }), "AI4EOSC, iMagine");
  assert.equal(projectList(["imagine", "kmd4eosc"], { imagine: "iMagine" }), "iMagine, kmd4eosc");
  assert.equal(projectList(["toString"], {}), "toString");
});
