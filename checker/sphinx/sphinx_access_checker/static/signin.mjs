// @ts-check
/**
 * Sign-in from a static page: OpenID Connect Authorization Code + PKCE with oauth4webapi.
 *
 * - Discovery checks the issuer exactly; the authorization response's `iss` is checked when
 *   the provider supports it (RFC 9207); the ID token's iss/aud/exp/nonce are checked by
 *   oauth4webapi; UserInfo must name the same subject.
 * - Tokens live in this module's memory only. The PKCE verifier, state and nonce live in
 *   sessionStorage for the round trip and are removed as soon as the callback is read.
 * - There is no refresh and no silent renew: when the access token expires, the reader is
 *   asked to sign in again.
 * This module holds no access rules: it hands merged claims to the Python core.
 */

import * as oauth from "./oauth4webapi.mjs";
import { jwtPayload, mergeClaims } from "./claims.mjs";
import { SIGNIN_KEY as PENDING_KEY } from "./storage.mjs";
// Addresses up to 8,000 characters pass common servers and proxies (nginx's default is 8 KB).
const MAX_LOGOUT_URL = 8000;

/** A sign-in failure with a stable code (data-error) and a message for the reader. */
export class SignInError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * @typedef {{ issuer: URL, clientId: string, scopes: string, redirectUri: string, postLogoutUri: string }} Settings
 * @typedef {{ claims: Record<string, unknown>, expires: number, notes: string[] }} SignInResult
 */

/** @type {{ idToken?: string, accessToken?: string } } */
const tokens = {};

/** @param {URL} url */
const isLoopback = (url) => ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);

/** oauth4webapi refuses plain http; allow it for a loopback provider only (the demo). */
const httpOptions = (/** @type {Settings} */ settings) =>
  isLoopback(settings.issuer) ? { [oauth.allowInsecureRequests]: true } : {};

/** @type {Map<string, Promise<oauth.AuthorizationServer>>} */
const discovered = new Map();

/**
 * @param {Settings} settings
 * @returns {Promise<oauth.AuthorizationServer>}
 */
export function discover(settings) {
  const key = settings.issuer.href;
  let found = discovered.get(key);
  if (!found) {
    found = (async () => {
      let response;
      try {
        response = await oauth.discoveryRequest(settings.issuer, { algorithm: "oidc", ...httpOptions(settings) });
      } catch {
        throw new SignInError("idp_down", "The sign-in service cannot be reached right now.");
      }
      if (!response.ok) throw new SignInError("idp_down", `The sign-in service answered with HTTP ${response.status}.`);
      try {
        return await oauth.processDiscoveryResponse(settings.issuer, response);
      } catch (error) {
        if (error instanceof oauth.OperationProcessingError && error.code === oauth.JSON_ATTRIBUTE_COMPARISON) {
          throw new SignInError("issuer_mismatch", "The sign-in service did not identify itself as the expected provider, so sign-in was stopped.");
        }
        throw new SignInError("idp_down", "The sign-in service sent an unusable configuration.");
      }
    })();
    found.catch(() => discovered.delete(key));
    discovered.set(key, found);
  }
  return found;
}

/** @param {Settings} settings */
const client = (settings) => ({ client_id: settings.clientId });

/**
 * Go to the provider. Resolves never (the page navigates away) unless discovery fails.
 * @param {Settings} settings
 */
export async function begin(settings) {
  const as = await discover(settings);
  if (!as.authorization_endpoint) throw new SignInError("idp_down", "The sign-in service has no authorization endpoint.");
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, nonce, issuer: settings.issuer.href }));
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: settings.clientId,
    redirect_uri: settings.redirectUri,
    response_type: "code",
    scope: settings.scopes,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  }).toString();
  location.assign(url.href);
}

/** Remove code, state, iss and error from the address bar (and from the history entry). */
function cleanAddress() {
  const url = new URL(location.href);
  for (const name of ["code", "state", "iss", "error", "error_description", "error_uri", "session_state"]) {
    url.searchParams.delete(name);
  }
  history.replaceState(history.state, "", url.href);
}

/**
 * Complete a sign-in on return from the provider.
 * @param {Settings} settings
 * @returns {Promise<SignInResult>}
 */
export async function complete(settings) {
  const callback = new URL(location.href);
  cleanAddress();
  const raw = sessionStorage.getItem(PENDING_KEY);
  // One use only: a reload or a replayed callback URL finds nothing to complete.
  sessionStorage.removeItem(PENDING_KEY);
  if (!raw) {
    throw new SignInError("replay", "This sign-in link was already used or did not start here. Please sign in again.");
  }
  /** @type {{ verifier: string, state: string, nonce: string }} */
  const pending = JSON.parse(raw);
  if (callback.searchParams.get("state") !== pending.state) {
    throw new SignInError("state_mismatch", "The sign-in response does not match the sign-in that started here, so it was refused. Please sign in again.");
  }
  const as = await discover(settings);
  const options = httpOptions(settings);
  let params;
  try {
    params = oauth.validateAuthResponse(as, client(settings), callback.searchParams, pending.state);
  } catch (error) {
    if (error instanceof oauth.AuthorizationResponseError) {
      throw new SignInError("signin_refused", `The provider did not sign you in (${error.error}).`);
    }
    throw new SignInError("issuer_mismatch", "The sign-in response came from an unexpected issuer, so it was refused.");
  }

  let result;
  try {
    const response = await oauth.authorizationCodeGrantRequest(
      as, client(settings), oauth.None(), params, settings.redirectUri, pending.verifier, options);
    result = await oauth.processAuthorizationCodeResponse(as, client(settings), response, {
      expectedNonce: pending.nonce, requireIdToken: true });
  } catch (error) {
    if (error instanceof SignInError) throw error;
    if (error instanceof TypeError) throw new SignInError("idp_down", "The sign-in service stopped answering during sign-in.");
    throw new SignInError("token_error", `The sign-in could not be completed (${describe(error)}).`);
  }
  const idClaims = oauth.getValidatedIdTokenClaims(result);
  if (!idClaims) throw new SignInError("token_error", "The provider sent no ID token.");
  const accessPayload = jwtPayload(result.access_token);
  const now = Math.floor(Date.now() / 1000);
  const expires = typeof accessPayload?.exp === "number"
    ? accessPayload.exp
    : now + (typeof result.expires_in === "number" ? result.expires_in : 300);
  if (expires <= now) throw new SignInError("token_expired", "The provider sent a token that has already expired. Please sign in again.");

  /** @type {string[]} */
  const notes = [];
  /** @type {Record<string, unknown> | null} */
  let userinfo = null;
  if (as.userinfo_endpoint) {
    let response;
    try {
      response = await oauth.userInfoRequest(as, client(settings), result.access_token, options);
    } catch {
      throw new SignInError("userinfo_error", "The sign-in service stopped answering while reading your account.");
    }
    if (response.status === 401 && /invalid_token/.test(response.headers.get("www-authenticate") ?? "")) {
      // The provider does not accept its own token at UserInfo: go on with the ID token.
      notes.push("The provider's UserInfo refused the access token; only the ID token's claims were used.");
    } else {
      try {
        userinfo = await oauth.processUserInfoResponse(as, client(settings), idClaims.sub, response);
      } catch (error) {
        throw new SignInError("userinfo_error", `Your account details could not be read (${describe(error)}).`);
      }
    }
  }
  tokens.idToken = result.id_token;
  tokens.accessToken = result.access_token;
  return { claims: mergeClaims({ idToken: idClaims, userinfo, accessToken: accessPayload }), expires, notes };
}

/** @param {unknown} error */
function describe(error) {
  if (error instanceof oauth.ResponseBodyError) return `${error.status} ${error.error}`;
  if (error instanceof oauth.OperationProcessingError) return error.message;
  return String(error);
}

/**
 * Forget the tokens, then end the provider session. Local state is cleared by the caller
 * first, so a provider that is down still leaves the reader signed out here. Resolves false
 * when the provider has no end-session endpoint; rejects with a SignInError (idp_down) when it
 * cannot be reached, rather than leaving the page for a browser error page.
 * @param {Settings} settings
 * @returns {Promise<boolean>}
 */
export async function end(settings) {
  const idToken = tokens.idToken;
  delete tokens.idToken;
  delete tokens.accessToken;
  // Ask again instead of trusting what discovery said at sign-in: the provider may be gone.
  discovered.delete(settings.issuer.href);
  const as = await discover(settings);
  if (!as.end_session_endpoint) return false;
  const url = new URL(as.end_session_endpoint);
  url.searchParams.set("client_id", settings.clientId);
  url.searchParams.set("post_logout_redirect_uri", settings.postLogoutUri);
  if (idToken) {
    url.searchParams.set("id_token_hint", idToken);
    // Only a hint: a large token (many roles or groups) would make an address longer than
    // servers accept (HTTP 414 or 431), and the reader would be left on an error page.
    if (url.href.length > MAX_LOGOUT_URL) url.searchParams.delete("id_token_hint");
  }
  location.assign(url.href);
  return true;
}

/** Drop the tokens without contacting the provider (expiry). */
export function forgetTokens() {
  delete tokens.idToken;
  delete tokens.accessToken;
}
