// Fault switches for tests (only with DEMO_IDP_TEST_CONTROLS=1): PUT/GET/DELETE /__test__/faults
// sets, reports and clears them; the middleware below makes the provider misbehave accordingly.

import { readText, sendJson } from './pages.mjs';

/** @type {Record<string, (value: unknown) => string | undefined>} what each fault accepts */
const RULES = {
  discovery_issuer: (v) => (typeof v === 'string' && v ? undefined : 'a non-empty string'),
  token: (v) => (v === 'error' || v === '500' ? undefined : '"error" or "500"'),
  userinfo: (v) => (v === '500' || v === 'malformed' || v === 'invalid_token'
    ? undefined : '"500", "malformed" or "invalid_token"'),
  access_token_ttl: (v) => (Number.isInteger(v) && /** @type {number} */ (v) > 0
    ? undefined : 'a positive integer (seconds)'),
  down: (v) => (typeof v === 'boolean' ? undefined : 'true or false'),
};

/** @type {Record<string, any>} the faults in force */
export let faults = {};

/** @param {unknown} body */
function validate(body) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { error: 'expected a JSON object' };
  }
  const problems = [];
  for (const [key, value] of Object.entries(body)) {
    const rule = RULES[key];
    if (!rule) {
      problems.push(`unknown fault ${JSON.stringify(key)} (known: ${Object.keys(RULES).join(', ')})`);
    } else {
      const expected = rule(value);
      if (expected) problems.push(`${key}: expected ${expected}, got ${JSON.stringify(value)}`);
    }
  }
  return problems.length ? { error: problems.join('; ') } : { faults: { ...body } };
}

/**
 * /__test__/faults: PUT replaces the set, GET reports it, DELETE clears it.
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 */
export async function handleFaultControls(req, res) {
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
    const result = validate(body);
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

/**
 * Koa middleware for provider.use(): the token, UserInfo and discovery faults.
 * @param {{ issuer: string, siteOrigins: Set<string>, tokenPath: string, userinfoPath: string }} options
 */
export function faultMiddleware({ issuer, siteOrigins, tokenPath, userinfoPath }) {
  /**
   * Fault answers come instead of the provider's, so they need its CORS headers: without them a
   * browser reports a network error instead of the HTTP error a test wants the page to show.
   * @param {any} ctx
   * @param {number} status
   * @param {unknown} body
   */
  function answer(ctx, status, body) {
    ctx.vary('Origin');
    const origin = ctx.get('Origin');
    if (origin && siteOrigins.has(origin)) {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Expose-Headers', 'WWW-Authenticate');
    }
    ctx.status = status;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = body;
  }

  /**
   * @param {any} ctx
   * @param {() => Promise<void>} next
   */
  return async function faultsInForce(ctx, next) {
    const { path, method } = ctx;
    if (path === tokenPath && method === 'POST' && faults.token) {
      if (faults.token === '500') {
        answer(ctx, 500, { error: 'server_error', error_description: 'token endpoint failure (demo fault)' });
      } else {
        answer(ctx, 400, { error: 'invalid_grant', error_description: 'grant request is invalid (demo fault)' });
      }
      return;
    }
    if (path === userinfoPath && (method === 'GET' || method === 'POST') && faults.userinfo) {
      if (faults.userinfo === '500') {
        answer(ctx, 500, { error: 'server_error', error_description: 'UserInfo failure (demo fault)' });
      } else if (faults.userinfo === 'malformed') {
        answer(ctx, 200, '{"sub": "truncated');
        // Labelled JSON on purpose: the client must fail on parsing, not on the content type.
        ctx.type = 'application/json';
      } else {
        answer(ctx, 401, { error: 'invalid_token', error_description: 'invalid token provided (demo fault)' });
        ctx.set('WWW-Authenticate', `Bearer realm="${issuer}", error="invalid_token", error_description="invalid token provided (demo fault)"`);
      }
      return;
    }
    await next();
    if (ctx.oidc?.route === 'discovery' && faults.discovery_issuer && ctx.body && typeof ctx.body === 'object') {
      ctx.body = { ...ctx.body, issuer: faults.discovery_issuer };
    }
  };
}
