// The demo provider's HTML pages and small HTTP helpers. No web fonts or other remote
// resources, unlike oidc-provider's stock pages: tests fail on requests that leave 127.0.0.1.

/** @param {unknown} value */
export function esc(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * @param {string} title
 * @param {string} body
 */
export function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:25px auto;max-width:22rem;padding:0 1rem}
label{display:block}
input,button{display:block;box-sizing:border-box;width:100%;margin:.2rem 0 .6rem;padding:.5rem;font-size:1rem}
.error{color:#a00;font-weight:600}
</style>
</head>
<body>
${body}
</body>
</html>`;
}

/**
 * The sign-in form: the only page a user sees at the provider (consent is automatic).
 * @param {string} uid the interaction's id
 * @param {string[]} logins the demo logins, listed as a reminder
 * @param {{ login?: string, error?: string }} [options] a refused login and why
 */
export function loginPage(uid, logins, { login = '', error = '' } = {}) {
  const known = logins.map((l) => `<code>${esc(l)}</code>`).join(', ');
  const alert = error ? `<p class="error" role="alert" id="login-error">${esc(error)}</p>\n` : '';
  const described = error ? ' aria-describedby="login-error"' : '';
  return page('Sign-in', `<h1>Sign-in</h1>
${alert}<p>Demo accounts: ${known}. Any password works.</p>
<form autocomplete="off" action="/interaction/${esc(uid)}/login" method="post">
<label>Login <input required type="text" name="login" value="${esc(login)}"${described}${login ? '' : ' autofocus'}></label>
<label>Password <input required type="password" name="password"${login ? ' autofocus' : ''}></label>
<button type="submit">Sign in</button>
</form>`);
}

/** @param {Record<string, unknown>} fields */
export function errorPage(fields) {
  const rows = Object.entries(fields).map(([k, v]) => `<p><strong>${esc(k)}</strong>: ${esc(v)}</p>`).join('\n');
  return page('Sign-in error', `<h1>Sign-in error</h1>\n${rows}`);
}

/**
 * @param {import('node:stream').Readable} stream
 * @param {number} limit bytes
 * @returns {Promise<string>}
 */
export async function readText(stream, limit) {
  const chunks = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > limit) throw new RangeError('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 * @param {string} type
 * @param {string} body
 */
export function send(res, status, type, body) {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/**
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 * @param {unknown} body
 */
export function sendJson(res, status, body) {
  send(res, status, 'application/json', JSON.stringify(body));
}

/**
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 * @param {string} html
 */
export function sendHtml(res, status, html) {
  send(res, status, 'text/html; charset=utf-8', html);
}
