// The demo provider's accounts: a JSON file mapping login -> claims, and what each token carries.

import { readFileSync } from 'node:fs';

// Real providers release these at UserInfo only (EGI Check-in does so for entitlements).
const USERINFO_ONLY_CLAIMS = new Set(['eduperson_entitlement']);

/**
 * @typedef {{ login: string, description: string, claims: Record<string, unknown> }} Account
 * @typedef {{ byLogin: Map<string, Account>, bySub: Map<string, Account> }} Accounts
 */

/**
 * Reads and checks the accounts file; throws an Error that names the file and the problem.
 * @param {string} file
 * @returns {Accounts}
 */
export function loadAccounts(file) {
  let data;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read accounts file ${file}: ${err instanceof Error ? err.message : err}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new Error(`${file}: expected a JSON object mapping login -> claims`);
  }
  /** @type {Map<string, Account>} */
  const byLogin = new Map();
  /** @type {Map<string, Account>} */
  const bySub = new Map();
  for (const [login, value] of Object.entries(data)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`${file}: account ${JSON.stringify(login)} must be an object of claims`);
    }
    // Keys starting with "_" are notes for people (e.g. "_description"), never claims.
    const claims = Object.fromEntries(Object.entries(value).filter(([k]) => !k.startsWith('_')));
    if (typeof claims.sub !== 'string' || !claims.sub) {
      throw new Error(`${file}: account ${JSON.stringify(login)} needs a non-empty string "sub"`);
    }
    const other = bySub.get(claims.sub);
    if (other) {
      throw new Error(`${file}: accounts ${JSON.stringify(other.login)} and ${JSON.stringify(login)} share the sub ${JSON.stringify(claims.sub)}`);
    }
    const description = typeof value._description === 'string' ? value._description : '';
    const account = { login, description, claims };
    byLogin.set(login, account);
    bySub.set(claims.sub, account);
  }
  if (!byLogin.size) throw new Error(`${file}: no accounts`);
  return { byLogin, bySub };
}

/**
 * The account object oidc-provider's findAccount returns, or undefined for an unknown sub.
 * @param {Accounts} accounts
 * @param {string} sub
 */
export function findAccount(accounts, sub) {
  const account = accounts.bySub.get(sub);
  if (!account) return undefined;
  return {
    accountId: sub,
    /** @param {string} use "id_token" or "userinfo" */
    async claims(use) {
      const claims = structuredClone(account.claims);
      if (use === 'id_token') {
        for (const name of USERINFO_ONLY_CLAIMS) delete claims[name];
      }
      return claims;
    },
  };
}
