// Demo OpenID Connect provider for the docs' local stack and tests.
//
// A real, certified provider (npm oidc-provider) with in-memory state, configured to behave
// like the providers the access checker meets in production: the AI4OS Keycloak (realm roles
// in the ID token and UserInfo) and EGI Check-in (eduperson_entitlement at UserInfo only).
// It is a development tool: it listens on 127.0.0.1 only and accepts any password.
//
// Environment:
//   IDP_PORT                    port (default 9400); the issuer is http://127.0.0.1:<port>
//   DEMO_IDP_ACCOUNTS           accounts file (login -> claims), default ./accounts.json
//   DEMO_IDP_CLIENT_ID          the one registered client (default ai4os-docs-demo)
//   DEMO_IDP_REDIRECT_URIS      space-separated redirect URIs
//   DEMO_IDP_POST_LOGOUT_URIS   space-separated post-logout redirect URIs
//   DEMO_IDP_ACCESS_TOKEN_TTL   access and ID token lifetime in seconds (default 3600)
//   DEMO_IDP_TEST_CONTROLS=1    enables PUT/GET/DELETE /__test__/faults
//   DEMO_IDP_QUIET=1            no access log lines

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider from 'oidc-provider';

const HERE = dirname(fileURLToPath(import.meta.url));
const HOST = '127.0.0.1';
const DEFAULT_SITE_PAGE = 'http://127.0.0.1:8000/reference/user-access-levels.html';

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
 * @param {string} fallback
 */
function urisFromEnv(name, fallback) {
  const uris = (process.env[name] ?? fallback).split(/\s+/).filter(Boolean);
  if (!uris.length) fail(`${name} must list at least one URI`);
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
const REDIRECT_URIS = urisFromEnv('DEMO_IDP_REDIRECT_URIS', DEFAULT_SITE_PAGE);
const POST_LOGOUT_URIS = urisFromEnv('DEMO_IDP_POST_LOGOUT_URIS', DEFAULT_SITE_PAGE);
const TOKEN_TTL = intFromEnv('DEMO_IDP_ACCESS_TOKEN_TTL', 3600, 1, 365 * 24 * 3600);
const TEST_CONTROLS = process.env.DEMO_IDP_TEST_CONTROLS === '1';
const QUIET = process.env.DEMO_IDP_QUIET === '1';
const ACCOUNTS_FILE = resolve(process.env.DEMO_IDP_ACCOUNTS || join(HERE, 'accounts.json'));

// The site's origins: the only browser origins allowed to call the token and UserInfo
// endpoints (discovery and JWKS are public).
const SITE_ORIGINS = new Set([...REDIRECT_URIS, ...POST_LOGOUT_URIS].map((u) => new URL(u).origin));

// Real providers release these at UserInfo only (EGI Check-in does so for entitlements).
const USERINFO_ONLY_CLAIMS = new Set(['eduperson_entitlement']);

const ROUTES = {
  authorization: '/auth',
  token: '/token',
  userinfo: '/me',
  jwks: '/jwks',
  end_session: '/session/end',
};
const DISCOVERY_PATH = '/.well-known/openid-configuration';
const INTERACTION_SUBMIT_PATH = /^\/interaction\/[^/]+$/;
const FORM_BODY_LIMIT = 56 * 1024; // oidc-provider's own limit for form bodies

// ---------------------------------------------------------------------------------------------
// Accounts

/**
 * @typedef {{ login: string, description: string, claims: Record<string, unknown> }} Account
 */

/** @param {string} file */
function loadAccounts(file) {
  let data;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    fail(`cannot read accounts file ${file}: ${err instanceof Error ? err.message : err}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    fail(`${file}: expected a JSON object mapping login -> claims`);
  }
  /** @type {Map<string, Account>} */
  const byLogin = new Map();
  /** @type {Map<string, Account>} */
  const bySub = new Map();
  for (const [login, value] of Object.entries(data)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      fail(`${file}: account ${JSON.stringify(login)} must be an object of claims`);
    }
    // Keys starting with "_" are notes for people (e.g. "_description"), never claims.
    const claims = Object.fromEntries(Object.entries(value).filter(([k]) => !k.startsWith('_')));
    if (typeof claims.sub !== 'string' || !claims.sub) {
      fail(`${file}: account ${JSON.stringify(login)} needs a non-empty string "sub"`);
    }
    if (bySub.has(claims.sub)) {
      fail(`${file}: accounts ${JSON.stringify(bySub.get(claims.sub)?.login)} and ${JSON.stringify(login)} share the sub ${JSON.stringify(claims.sub)}`);
    }
    const description = typeof value._description === 'string' ? value._description : '';
    const account = { login, description, claims };
    byLogin.set(login, account);
    bySub.set(claims.sub, account);
  }
  if (!byLogin.size) fail(`${file}: no accounts`);
  return { byLogin, bySub };
}

const ACCOUNTS = loadAccounts(ACCOUNTS_FILE);

// ---------------------------------------------------------------------------------------------
// Fault injection (test controls)

/** @type {Record<string, (value: unknown) => string | undefined>} */
const FAULT_RULES = {
  discovery_issuer: (v) => (typeof v === 'string' && v ? undefined : 'a non-empty string'),
  token: (v) => (v === 'error' || v === '500' ? undefined : '"error" or "500"'),
  userinfo: (v) => (v === '500' || v === 'malformed' || v === 'invalid_token'
    ? undefined : '"500", "malformed" or "invalid_token"'),
  access_token_ttl: (v) => (Number.isInteger(v) && /** @type {number} */ (v) > 0
    ? undefined : 'a positive integer (seconds)'),
  down: (v) => (typeof v === 'boolean' ? undefined : 'true or false'),
};

/** @type {Record<string, any>} */
let faults = {};

/** @param {unknown} body */
function validateFaults(body) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { error: 'expected a JSON object' };
  }
  const problems = [];
  for (const [key, value] of Object.entries(body)) {
    const rule = FAULT_RULES[key];
    if (!rule) {
      problems.push(`unknown fault ${JSON.stringify(key)} (known: ${Object.keys(FAULT_RULES).join(', ')})`);
    } else {
      const expected = rule(value);
      if (expected) problems.push(`${key}: expected ${expected}, got ${JSON.stringify(value)}`);
    }
  }
  return problems.length ? { error: problems.join('; ') } : { faults: { ...body } };
}

// Read at issue time, so a changed value applies to tokens issued from then on.
function tokenTtl() {
  return faults.access_token_ttl ?? TOKEN_TTL;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** @param {unknown} value */
function esc(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * @param {string} title
 * @param {string} body
 */
function page(title, body) {
  // No web fonts or other remote resources, unlike oidc-provider's stock pages.
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:25px auto;max-width:22rem;padding:0 1rem}
input,button{display:block;box-sizing:border-box;width:100%;margin:0 0 .6rem;padding:.5rem;font-size:1rem}
.error{color:#a00;font-weight:600}
</style>
</head>
<body>
${body}
</body>
</html>`;
}

/**
 * @param {import('node:stream').Readable} stream
 * @param {number} limit
 * @returns {Promise<string>}
 */
async function readText(stream, limit) {
  const chunks = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * CORS for responses that the fault switches produce instead of the provider: without it a
 * browser would report a network error instead of the HTTP error the test wants to show.
 * @param {any} ctx
 */
function allowSiteOrigin(ctx) {
  ctx.vary('Origin');
  const origin = ctx.get('Origin');
  if (origin && SITE_ORIGINS.has(origin)) {
    ctx.set('Access-Control-Allow-Origin', origin);
    ctx.set('Access-Control-Expose-Headers', 'WWW-Authenticate');
  }
}

/**
 * @param {any} ctx
 * @param {number} status
 * @param {unknown} body
 */
function jsonResponse(ctx, status, body) {
  allowSiteOrigin(ctx);
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = body;
}

/**
 * @param {string} uid
 * @param {string} login
 */
function unknownLoginPage(uid, login) {
  const known = [...ACCOUNTS.byLogin.keys()].map((l) => `<code>${esc(l)}</code>`).join(', ');
  const what = login ? `There is no demo account called “${esc(login)}”.` : 'Enter a login.';
  return page('Sign-in', `<h1>Sign-in</h1>
<p class="error" role="alert" id="login-error">${what}</p>
<p>Demo accounts: ${known}. Any password works.</p>
<form autocomplete="off" action="/interaction/${esc(uid)}" method="post">
<input type="hidden" name="prompt" value="login">
<input required type="text" name="login" placeholder="Enter a demo login" value="${esc(login)}" autofocus>
<input required type="password" name="password" placeholder="and any password">
<button type="submit" class="login login-submit">Sign-in</button>
</form>`);
}

// oidc-provider warns once when a request body reaches it already read, recommending against
// "upstream body parsers". Reading the sign-in form first is deliberate here (unknown logins
// must be refused before the provider creates a session), so that one warning only misleads.
const consoleWarn = console.warn.bind(console);
console.warn = (...args) => {
  if (typeof args[0] === 'string' && args[0].includes('already parsed request body detected')) return;
  consoleWarn(...args);
};

// ---------------------------------------------------------------------------------------------
// The provider

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
  // below keeps UserInfo-only claims out of it.
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    // The sign-in form is rewritten to carry the sub (see the middleware below); the login is
    // accepted as well so that a form that bypassed the rewrite still resolves.
    const account = ACCOUNTS.bySub.get(id) ?? ACCOUNTS.byLogin.get(id);
    if (!account) return undefined;
    return {
      accountId: /** @type {string} */ (account.claims.sub),
      /** @param {string} use */
      async claims(use) {
        const claims = structuredClone(account.claims);
        if (use === 'id_token') {
          for (const name of USERINFO_ONLY_CLAIMS) delete claims[name];
        }
        return claims;
      },
    };
  },
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
    devInteractions: { enabled: true },
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
    const rows = Object.entries(out).map(([k, v]) => `<p><strong>${esc(k)}</strong>: ${esc(v)}</p>`).join('\n');
    ctx.body = page('Sign-in error', `<h1>Sign-in error</h1>\n${rows}`);
  },
});

// Runs before the provider's own routing (provider.use inserts ahead of it).
provider.use(async (ctx, next) => {
  const { path, method } = ctx;

  if (method === 'POST' && INTERACTION_SUBMIT_PATH.test(path) && ctx.is('application/x-www-form-urlencoded')) {
    let raw;
    try {
      raw = await readText(ctx.req, FORM_BODY_LIMIT);
    } catch {
      ctx.status = 413;
      ctx.body = 'request body too large';
      return;
    }
    const form = new URLSearchParams(raw);
    if (form.get('prompt') === 'login') {
      const login = (form.get('login') ?? '').trim();
      const account = ACCOUNTS.byLogin.get(login);
      if (!account) {
        ctx.status = 400;
        ctx.type = 'html';
        ctx.set('Cache-Control', 'no-store');
        ctx.body = unknownLoginPage(path.slice('/interaction/'.length), login);
        return;
      }
      form.set('login', /** @type {string} */ (account.claims.sub));
    }
    // oidc-provider's body parser falls back to req.body when the stream was already read.
    /** @type {any} */ (ctx.req).body = form.toString();
  }

  if (path === ROUTES.token && method === 'POST' && faults.token) {
    if (faults.token === '500') {
      jsonResponse(ctx, 500, { error: 'server_error', error_description: 'token endpoint failure (demo fault)' });
    } else {
      jsonResponse(ctx, 400, { error: 'invalid_grant', error_description: 'grant request is invalid (demo fault)' });
    }
    return;
  }

  if (path === ROUTES.userinfo && (method === 'GET' || method === 'POST') && faults.userinfo) {
    if (faults.userinfo === '500') {
      jsonResponse(ctx, 500, { error: 'server_error', error_description: 'UserInfo failure (demo fault)' });
    } else if (faults.userinfo === 'malformed') {
      jsonResponse(ctx, 200, '{"sub": "truncated');
      // Labelled JSON on purpose: the client must fail on parsing, not on the content type.
      ctx.type = 'application/json';
    } else {
      jsonResponse(ctx, 401, { error: 'invalid_token', error_description: 'invalid token provided (demo fault)' });
      ctx.set('WWW-Authenticate', `Bearer realm="${ISSUER}", error="invalid_token", error_description="invalid token provided (demo fault)"`);
    }
    return;
  }

  await next();

  if (path === DISCOVERY_PATH && faults.discovery_issuer && ctx.body && typeof ctx.body === 'object') {
    ctx.body = { ...ctx.body, issuer: faults.discovery_issuer };
  }
});

// ---------------------------------------------------------------------------------------------
// HTTP server: health, test controls and the "down" fault sit in front of the provider.

/**
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 * @param {unknown} body
 */
function sendJson(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

/**
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 */
async function handleFaults(req, res) {
  if (req.method === 'GET') {
    sendJson(res, 200, { faults });
  } else if (req.method === 'DELETE') {
    faults = {};
    console.log('demo OpenID provider: faults cleared');
    sendJson(res, 200, { faults });
  } else if (req.method === 'PUT') {
    let body;
    try {
      body = JSON.parse(await readText(req, 16 * 1024));
    } catch (err) {
      sendJson(res, 400, { error: `invalid JSON body: ${err instanceof Error ? err.message : err}` });
      return;
    }
    const result = validateFaults(body);
    if (result.error !== undefined) {
      sendJson(res, 400, { error: result.error });
      return;
    }
    faults = result.faults;
    console.log(`demo OpenID provider: faults set ${JSON.stringify(faults)}`);
    sendJson(res, 200, { faults });
  } else {
    res.setHeader('Allow', 'GET, PUT, DELETE');
    sendJson(res, 405, { error: 'method not allowed' });
  }
}

const providerHandler = provider.callback();

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (!QUIET) {
    res.on('finish', () => console.log(`${req.method} ${path} ${res.statusCode}`));
  }
  if (path === '/__health') {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : 'ok');
    return;
  }
  if (TEST_CONTROLS && path === '/__test__/faults') {
    handleFaults(req, res).catch((err) => {
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
  providerHandler(req, res);
});

server.on('error', (err) => fail(`cannot listen on ${HOST}:${PORT}: ${err.message}`));

server.listen(PORT, HOST, () => {
  console.log(`demo OpenID provider ready at ${ISSUER}`);
  console.log(`  client_id ${CLIENT_ID}; redirect URIs ${REDIRECT_URIS.join(' ')}`);
  console.log(`  accounts from ${ACCOUNTS_FILE}: ${[...ACCOUNTS.byLogin.keys()].join(', ')}`);
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
