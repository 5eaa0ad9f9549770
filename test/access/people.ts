import assert from 'node:assert/strict';
import type { DozenProcess } from '../support/dozen-process.js';

/** A logged-in browser, as far as the API sees one: the two cookies, and the CSRF header on unsafe requests. */
export interface Browser {
  name: string;
  session: string;
  csrf: string;
  /** fetch with the cookies; the CSRF header unless `csrf: false`. */
  fetch(path: string, init?: RequestInit & { csrf?: boolean }): Promise<Response>;
  graphql(query: string, variables?: Record<string, unknown>): Promise<{ status: number; body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] } }>;
}

export const json = (body: unknown) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** Creates a user through the admin token. */
export async function addUser(dozen: DozenProcess, name: string, role: string, password = `${name}-password`): Promise<void> {
  const response = await dozen.api('/users', { method: 'POST', ...json({ name, role, password }) });
  assert.equal(response.status, 201, (await response.text()) + dozen.logs());
}

export function login(dozen: DozenProcess, username: string, password: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(dozen.url + '/auth/login', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ username, password }) });
}

/** The Set-Cookie values of a response, by cookie name. */
export function setCookies(response: Response): Map<string, string> {
  return new Map(response.headers.getSetCookie().map((value) => [value.slice(0, value.indexOf('=')), value]));
}

export function cookieValue(setCookie: string): string {
  return setCookie.slice(setCookie.indexOf('=') + 1, setCookie.indexOf(';'));
}

/** Logs in (asserting 200) and returns the browser holding the session. */
export async function signIn(dozen: DozenProcess, name: string, password = `${name}-password`): Promise<Browser> {
  const response = await login(dozen, name, password);
  assert.equal(response.status, 200, await response.clone().text());
  const cookies = setCookies(response);
  const session = cookieValue(cookies.get('dozen_session')!);
  const csrf = cookieValue(cookies.get('dozen_csrf')!);
  const browser: Browser = {
    name,
    session,
    csrf,
    fetch: (path, init = {}) => {
      const unsafe = !['GET', 'HEAD'].includes((init.method ?? 'GET').toUpperCase());
      const headers: Record<string, string> = { cookie: `dozen_session=${session}; dozen_csrf=${csrf}`, ...(init.headers as Record<string, string>) };
      if (unsafe && init.csrf !== false && !('x-dozen-csrf' in headers)) headers['x-dozen-csrf'] = csrf;
      return fetch(dozen.url + path, { ...init, headers });
    },
    graphql: async (query, variables) => {
      const response = await browser.fetch('/graphql', { method: 'POST', ...json({ query, variables }) });
      return { status: response.status, body: await response.json() };
    },
  };
  return browser;
}
