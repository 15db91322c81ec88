// Demo OpenID provider for the docs' local stack and tests.
//
// A real, certified provider (npm oidc-provider) with in-memory state, configured to behave
// like the providers the access checker meets in production: the AI4OS Keycloak (realm roles
// in the ID token and UserInfo) and EGI Check-in (eduperson_entitlement at UserInfo only).
// It is a development tool: it listens on 127.0.0.1 only and accepts any password.
//
// Environment:
//   IDP_PORT                    port (default 9400); the issuer is http://127.0.0.1:<port>
//   DEMO_IDP_REDIRECT_URIS      space-separated redirect URIs (required; dev/stack.py sets them
//                               from the build's _access_checker/oidc.json)
//   DEMO_IDP_POST_LOGOUT_URIS   space-separated post-logout redirect URIs (default: the above)
//   DEMO_IDP_ACCOUNTS           accounts file (login -> claims), default ./accounts.json
//   DEMO_IDP_CLIENT_ID          the one registered client (default ai4os-docs-demo)
//   DEMO_IDP_ACCESS_TOKEN_TTL   access and ID token lifetime in seconds (default 3600)
//   DEMO_IDP_TEST_CONTROLS=1    enables PUT/GET/DELETE /__test__/faults (see faults.mjs)
//   DEMO_IDP_QUIET=1            no access log lines

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider, { errors } from 'oidc-provider';

import { findAccount, loadAccounts } from './accounts.mjs';
import { faultMiddleware, faults, handleFaultControls } from './faults.mjs';
import {
  errorPage, loginPage, page, readText, send, sendHtml, sendJson,
} from './pages.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const HOST = '127.0.0.1';

/** @param {string} message */
function fail(message) {
  console.error(`demo OpenID provider: ${message}`);
  process.exit(2);
}

/**
 * @param {string} name
 * @param {number} fallback
 * @param {number} min
 * @param {number} max
 */
function intFromEnv(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * @param {string} name
 * @param {string} [fallback]
 */
function urisFromEnv(name, fallback) {
  const uris = (process.env[name] || fallback || '').split(/\s+/).filter(Boolean);
  if (!uris.length) fail(`${name} must list at least one URI (dev/stack.py sets it from the site's build)`);
  for (const uri of uris) {
    if (!URL.canParse(uri)) fail(`${name}: not an absolute URI: ${JSON.stringify(uri)}`);
  }
  return uris;
}

// Port 0 is refused: the issuer is part of every token and of discovery, so it must be known
// before listening.
const PORT = intFromEnv('IDP_PORT', 9400, 1, 65535);
const ISSUER = `http://${HOST}:${PORT}`;
const CLIENT_ID = process.env.DEMO_IDP_CLIENT_ID || 'ai4os-docs-demo';
const REDIRECT_URIS = urisFromEnv('DEMO_IDP_REDIRECT_URIS');
const POST_LOGOUT_URIS = urisFromEnv('DEMO_IDP_POST_LOGOUT_URIS', REDIRECT_URIS.join(' '));
const TOKEN_TTL = intFromEnv('DEMO_IDP_ACCESS_TOKEN_TTL', 3600, 1, 365 * 24 * 3600);
const TEST_CONTROLS = process.env.DEMO_IDP_TEST_CONTROLS === '1';
const QUIET = process.env.DEMO_IDP_QUIET === '1';
const ACCOUNTS_FILE = resolve(process.env.DEMO_IDP_ACCOUNTS || join(HERE, 'accounts.json'));

// The site's origins: the only browser origins allowed to call the token and UserInfo
// endpoints (discovery and JWKS are public).
const SITE_ORIGINS = new Set([...REDIRECT_URIS, ...POST_LOGOUT_URIS].map((u) => new URL(u).origin));

const ROUTES = {
  authorization: '/auth',
  token: '/token',
  userinfo: '/me',
  jwks: '/jwks',
  end_session: '/session/end',
};
// oidc-provider's default interactions.url is /interaction/<uid>; the form posts below it, so
// the interaction cookie (scoped to that path) comes along.
const INTERACTION = /^\/interaction\/([\w-]+)$/;
const LOGIN_SUBMIT = /^\/interaction\/([\w-]+)\/login$/;
const FORM_BODY_LIMIT = 56 * 1024;

let ACCOUNTS;
try {
  ACCOUNTS = loadAccounts(ACCOUNTS_FILE);
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
const accounts = /** @type {import('./accounts.mjs').Accounts} */ (ACCOUNTS);
const LOGINS = [...accounts.byLogin.keys()];

// Read at issue time, so a changed fault applies to tokens issued from then on.
const tokenTtl = () => faults.access_token_ttl ?? TOKEN_TTL;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256',
};

const provider = new Provider(ISSUER, {
  clients: [{
    client_id: CLIENT_ID,
    client_name: 'AI4OS documentation (local demo)',
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: REDIRECT_URIS,
    post_logout_redirect_uris: POST_LOGOUT_URIS,
    id_token_signed_response_alg: 'RS256',
  }],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  routes: ROUTES,
  responseTypes: ['code'],
  pkce: { required: () => true },
  // Real providers insist on redirect_uri; so should the demo, to catch client bugs.
  allowOmittingSingleRegisteredRedirectUri: false,
  // No offline_access: the site must not get refresh tokens.
  scopes: ['openid', 'profile', 'email', 'eduperson_entitlement', 'voperson_id', 'roles'],
  claims: {
    acr: null,
    auth_time: null,
    sid: null,
    // The AI4OS Keycloak's "roles" scope is a default client scope: realm roles arrive even
    // when a client asks for "openid" only. "roles" is accepted too, for clients that name it.
    openid: ['sub', 'realm_access'],
    roles: ['realm_access'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    email: ['email', 'email_verified'],
    eduperson_entitlement: ['eduperson_entitlement'],
    voperson_id: ['voperson_id'],
  },
  // Scope-released claims go into the ID token too (as Keycloak does); the account's claims()
  // keeps UserInfo-only claims out of it.
  conformIdTokenClaims: false,
  findAccount: (ctx, sub) => findAccount(accounts, sub),
  // Consent is granted on the user's behalf, so the sign-in form is the only provider page.
  async loadExistingGrant(ctx) {
    const { oidc } = ctx;
    const accountId = oidc.session.accountId;
    const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
    let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
    if (!grant || grant.accountId !== accountId || grant.clientId !== oidc.client.clientId) {
      grant = new oidc.provider.Grant({ accountId, clientId: oidc.client.clientId });
    }
    grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
    const claims = [...oidc.requestParamClaims];
    if (claims.length) grant.addOIDCClaims(claims);
    await grant.save();
    return grant;
  },
  clientBasedCORS(ctx, origin, client) {
    return client.clientId === CLIENT_ID && SITE_ORIGINS.has(origin);
  },
  // One process, one clock: the default 15 s of tolerance would only keep expired tokens
  // working, which hides the expiry that tests and the site's "expired" state rely on.
  clockTolerance: 0,
  ttl: {
    AccessToken: () => tokenTtl(),
    IdToken: () => tokenTtl(),
    AuthorizationCode: 60,
    Interaction: 60 * 60,
    Session: 8 * 60 * 60,
    Grant: 24 * 60 * 60,
  },
  features: {
    // The sign-in form is this file's own (see signIn below).
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      // The stock page asks "Do you want to sign-out?". This one submits the same form with
      // logout=yes at once (a button remains for browsers without JavaScript), so signing out
      // on the site signs out here without a question.
      async logoutSource(ctx, form) {
        const autoForm = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/></form>');
        ctx.body = page('Signing out', `<h1>Signing out…</h1>
${autoForm}
<noscript><button type="submit" form="op.logoutForm">Sign out</button></noscript>
<script>document.getElementById('op.logoutForm').submit();</script>`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<h1>Signed out</h1><p>You have signed out of the demo OpenID provider.</p>');
      },
    },
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = errorPage(out);
  },
});

if (TEST_CONTROLS) {
  provider.use(faultMiddleware({
    issuer: ISSUER, siteOrigins: SITE_ORIGINS, tokenPath: ROUTES.token, userinfoPath: ROUTES.userinfo,
  }));
}

/**
 * The sign-in interaction, through oidc-provider's interaction API: GET shows the form, POST
 * checks the login and finishes the interaction (a redirect back to the authorization request).
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 * @param {string} uid from the URL
 * @param {boolean} submitted
 */
async function signIn(req, res, uid, submitted) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid || details.prompt.name !== 'login') {
    sendHtml(res, 400, errorPage({ error: 'invalid_request', error_description: 'no sign-in is pending here' }));
    return;
  }
  if (!submitted) {
    const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint : '';
    sendHtml(res, 200, loginPage(uid, LOGINS, { login: hint }));
    return;
  }
  const form = new URLSearchParams(await readText(req, FORM_BODY_LIMIT));
  const login = (form.get('login') ?? '').trim();
  const account = accounts.byLogin.get(login);
  if (!account) {
    const error = login ? `There is no demo account called “${login}”.` : 'Enter a login.';
    sendHtml(res, 400, loginPage(uid, LOGINS, { login, error }));
    return;
  }
  const accountId = /** @type {string} */ (account.claims.sub);
  await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
}

/**
 * @param {import('node:http').ServerResponse} res
 * @param {unknown} err
 */
function signInFailed(res, err) {
  if (res.headersSent) return;
  if (err instanceof errors.OIDCProviderError) {
    // E.g. an expired interaction or a missing cookie: the user starts again from the site.
    sendHtml(res, err.statusCode, errorPage({ error: err.error, error_description: err.error_description }));
  } else if (err instanceof RangeError) {
    sendHtml(res, 413, errorPage({ error: 'invalid_request', error_description: err.message }));
  } else {
    console.error(err);
    sendHtml(res, 500, errorPage({ error: 'server_error', error_description: 'internal error' }));
  }
}

const providerHandler = provider.callback();

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (!QUIET) {
    res.on('finish', () => console.log(`${req.method} ${path} ${res.statusCode}`));
  }
  if (path === '/__health') {
    send(res, 200, 'text/plain; charset=utf-8', 'ok');
    return;
  }
  if (TEST_CONTROLS && path === '/__test__/faults') {
    handleFaultControls(req, res).catch((err) => {
      console.error(err);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
    });
    return;
  }
  if (faults.down) {
    // A TCP reset is what a browser sees when the provider is not running at all.
    if (!QUIET) console.log(`${req.method} ${path} reset (down fault)`);
    req.socket.resetAndDestroy();
    return;
  }
  const shown = req.method === 'GET' || req.method === 'HEAD' ? INTERACTION.exec(path) : null;
  const submitted = req.method === 'POST' ? LOGIN_SUBMIT.exec(path) : null;
  if (shown || submitted) {
    const uid = /** @type {RegExpExecArray} */ (shown || submitted)[1];
    signIn(req, res, uid, Boolean(submitted)).catch((err) => signInFailed(res, err));
    return;
  }
  providerHandler(req, res);
});

server.on('error', (err) => fail(`cannot listen on ${HOST}:${PORT}: ${err.message}`));

server.listen(PORT, HOST, () => {
  console.log(`demo OpenID provider ready at ${ISSUER}`);
  console.log(`  client_id ${CLIENT_ID}; redirect URIs ${REDIRECT_URIS.join(' ')}`);
  console.log(`  accounts from ${ACCOUNTS_FILE}: ${LOGINS.join(', ')}`);
  if (TEST_CONTROLS) console.log('  test controls enabled at /__test__/faults');
});

/** @param {string} signal */
function shutdown(signal) {
  console.log(`demo OpenID provider: ${signal}, shutting down`);
  server.close(() => process.exit(0));
  // Keep-alive connections from browsers would otherwise hold close() open.
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
