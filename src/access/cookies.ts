/** The session cookie: HttpOnly, so page scripts never see it. */
export const SESSION_COOKIE = 'dozen_session';
/** The CSRF cookie: readable by the console, which echoes it in CSRF_HEADER (double submit). */
export const CSRF_COOKIE = 'dozen_csrf';
export const CSRF_HEADER = 'x-dozen-csrf';
/**
 * The names over TLS carry this prefix: a browser keeps such a cookie only when it was set Secure, with
 * Path=/ and no Domain, by this very host, so no other host of the site (an app on chat.example.net, or
 * plain HTTP on the same name) can set one in its place. Over plain HTTP (the loopback console) the prefix
 * cannot be used: a Secure cookie would not be kept.
 */
const HOST_PREFIX = '__Host-';

/**
 * How the request reached dozen: `true` over TLS (directly, or through a proxy of admin.trustedProxies),
 * `false` over plain HTTP, `undefined` when the caller did not say (AdminAuth tells it for HTTP requests and
 * WebSocket upgrades alike).
 */
export type Transport = boolean | undefined;

/** The cookies of a Cookie header (first value wins, as browsers send the most specific first). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const pair of (header ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at < 1) continue;
    const name = pair.slice(0, at).trim();
    let value = pair.slice(at + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (!cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}

/**
 * The session and CSRF values of a request's cookies. Over TLS only the `__Host-` names count: a plain
 * `dozen_session` there may have been set by another host of the site (session fixation). Over plain HTTP
 * only the plain names; when the transport is unknown, the `__Host-` ones first.
 */
export function sessionCookiesOf(header: string | undefined, secure: Transport): { session: string | undefined; csrf: string | undefined } {
  const cookies = parseCookies(header);
  const prefixed = { session: cookies.get(HOST_PREFIX + SESSION_COOKIE), csrf: cookies.get(HOST_PREFIX + CSRF_COOKIE) };
  const plain = { session: cookies.get(SESSION_COOKIE), csrf: cookies.get(CSRF_COOKIE) };
  if (secure === true) return prefixed;
  if (secure === false) return plain;
  return prefixed.session !== undefined ? prefixed : plain;
}

/**
 * The two Set-Cookie values of a login (or, with `maxAgeSeconds` 0, of a logout). SameSite=Strict on both:
 * a cross-site page can neither send nor trigger them. Over TLS (directly or through a trusted proxy) they
 * are Secure, so a console behind HTTPS never sends its session in clear, and `__Host-` names.
 */
export function sessionCookies(session: { secret: string; csrf: string } | null, maxAgeSeconds: number, secure: boolean): string[] {
  const prefix = secure ? HOST_PREFIX : '';
  const common = `Path=/; Max-Age=${maxAgeSeconds}; SameSite=Strict${secure ? '; Secure' : ''}`;
  return [`${prefix}${SESSION_COOKIE}=${session?.secret ?? ''}; ${common}; HttpOnly`, `${prefix}${CSRF_COOKIE}=${session?.csrf ?? ''}; ${common}`];
}
