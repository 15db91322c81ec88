// Unit tests of the claims merge (node:test): `node --test tests/js/`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { jwtPayload, mergeClaims } from "../../checker/sphinx/sphinx_access_checker/static/claims.mjs";

/** @param {object} payload */
const jwt = (payload) =>
  ["eyJhbGciOiJSUzI1NiJ9", Buffer.from(JSON.stringify(payload)).toString("base64url"), "c2ln"].join(".");

const ISS = "https://login.cloud.ai4eosc.eu/realms/ai4eosc";

test("Keycloak: realm roles from the JWT access token reach the merged claims", () => {
  const accessToken = jwtPayload(jwt({ iss: ISS, sub: "u1", azp: "docs", exp: 2e9,
    realm_access: { roles: ["default-roles-ai4eosc", "access:vo.ai4eosc.eu:ap-u"] } }));
  const merged = mergeClaims({ idToken: { iss: ISS, sub: "u1", aud: "docs", nonce: "n", name: "Ana" },
    userinfo: { sub: "u1", email: "ana@example.org" }, accessToken });
  assert.deepEqual(merged, { iss: ISS, sub: "u1", name: "Ana", email: "ana@example.org",
    realm_access: { roles: ["default-roles-ai4eosc", "access:vo.ai4eosc.eu:ap-u"] } });
});

test("EGI: entitlements only in UserInfo are kept; the ID token's identity wins", () => {
  const merged = mergeClaims({
    idToken: { iss: "https://aai.egi.eu/auth/realms/egi", sub: "abc@egi.eu", name: "Old Name" },
    userinfo: { sub: "abc@egi.eu", name: "New Name",
      eduperson_entitlement: ["urn:mace:egi.eu:group:vo.imagine-ai.eu:role=member#aai.egi.eu"] },
    accessToken: null,
  });
  assert.equal(merged.name, "New Name");
  assert.deepEqual(merged.eduperson_entitlement, ["urn:mace:egi.eu:group:vo.imagine-ai.eu:role=member#aai.egi.eu"]);
  assert.equal(merged.iss, "https://aai.egi.eu/auth/realms/egi");
});

test("role lists are the union of all sources, without repeats", () => {
  const merged = mergeClaims({
    idToken: { iss: ISS, sub: "u", realm_access: { roles: ["access:vo.ai4eosc.eu:ap-0"] } },
    userinfo: { sub: "u", realm_access: { roles: ["access:vo.ai4eosc.eu:ap-0", "access:vo.imagine-ai.eu:ap-u"] } },
    accessToken: { realm_access: { roles: ["platform-access:vo.ai4life.eu"] } },
  });
  assert.deepEqual(merged.realm_access, { roles: ["platform-access:vo.ai4life.eu", "access:vo.ai4eosc.eu:ap-0",
    "access:vo.imagine-ai.eu:ap-u"] });
});

test("UserInfo cannot change the subject or issuer, and protocol claims are dropped", () => {
  const merged = mergeClaims({ idToken: { iss: ISS, sub: "real", exp: 1, nonce: "n", at_hash: "h" },
    userinfo: { sub: "other", iss: "https://evil.example" } });
  assert.deepEqual(merged, { iss: ISS, sub: "real" });
});

test("opaque or malformed access tokens give no payload", () => {
  for (const token of ["opaque-token", "a.b", "a.!!!.c", jwt([1, 2]).replace(/\..*\./, ".WzEsMl0."), undefined]) {
    assert.equal(jwtPayload(token), null, String(token));
  }
  assert.deepEqual(jwtPayload(jwt({ a: "é" })), { a: "é" });
});
