// @ts-check
/**
 * Merging the provider's claims into the one object the Python core evaluates (maintainers, "How the checker works": Claims).
 * Pure: no DOM, no network, no access rules — it only decides which source a claim comes from.
 *
 * - Protocol claims (iss, sub) come from the verified ID token only; the rest of the
 *   protocol bookkeeping (aud, exp, nonce, hashes…) is dropped: the core has no use for it
 *   and the merged claims are kept in sessionStorage.
 * - Other claims: UserInfo wins over the ID token, which wins over the access-token payload
 *   (UserInfo is the provider's current view; EGI Check-in releases entitlements only there).
 * - Authorisation lists — realm_access.roles and eduperson_entitlement — are the union of
 *   every source, in order, without repeats: the AI4OS Keycloak carries the roles in its JWT
 *   access token only, and no source should hide a role another one shows.
 */

const PROTOCOL = new Set(["iss", "sub", "aud", "exp", "iat", "nbf", "auth_time", "nonce", "at_hash", "c_hash",
  "s_hash", "azp", "sid", "jti", "typ", "acr", "amr", "scope", "session_state", "client_id"]);

/** @typedef {Record<string, unknown>} Claims */

/** @param {unknown} value @returns {value is Claims} */
const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);

/** @param {unknown} value @returns {unknown[]} */
const asList = (value) => (Array.isArray(value) ? value : typeof value === "string" ? [value] : []);

/**
 * The payload of a JWT, or null when the token is opaque or malformed. Not verified: the
 * access token is meant for resource servers; its claims are informational here.
 * @param {string | undefined} token
 * @returns {Claims | null}
 */
export function jwtPayload(token) {
  const parts = typeof token === "string" ? token.split(".") : [];
  if (parts.length !== 3) return null;
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const payload = JSON.parse(new TextDecoder().decode(bytes));
    return isObject(payload) ? payload : null;
  } catch {
    return null;
  }
}

/**
 * @param {{ idToken: Claims, userinfo?: Claims | null, accessToken?: Claims | null }} sources
 * @returns {Claims}
 */
export function mergeClaims({ idToken, userinfo = null, accessToken = null }) {
  const ordered = [accessToken, idToken, userinfo].filter(isObject);
  /** @type {Claims} */
  const merged = {};
  for (const source of ordered) {
    for (const [key, value] of Object.entries(source)) {
      if (!PROTOCOL.has(key)) merged[key] = value;
    }
  }
  merged.iss = idToken.iss;
  merged.sub = idToken.sub;

  /** @param {(source: Claims) => unknown} pick */
  const union = (pick) => [...new Set(ordered.flatMap((source) => asList(pick(source))))];
  const roles = union((source) => (isObject(source.realm_access) ? source.realm_access.roles : undefined));
  if (roles.length || ordered.some((source) => "realm_access" in source)) {
    merged.realm_access = { ...(isObject(merged.realm_access) ? merged.realm_access : {}), roles };
  }
  const entitlements = union((source) => source.eduperson_entitlement);
  if (entitlements.length || ordered.some((source) => "eduperson_entitlement" in source)) {
    merged.eduperson_entitlement = entitlements;
  }
  return merged;
}
