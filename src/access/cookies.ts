/** The session cookie: HttpOnly, so page scripts never see it. */
export const SESSION_COOKIE = 'dozen_session';
/** The CSRF cookie: readable by the console, which echoes it in CSRF_HEADER (double submit). */
export const CSRF_COOKIE = 'dozen_csrf';
export const CSRF_HEADER = 'x-dozen-csrf';

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
 * The two Set-Cookie values of a login (or, with `maxAgeSeconds` 0, of a logout). SameSite=Strict on both:
 * a cross-site page can neither send nor trigger them. Secure when the request came over TLS (directly or
 * through a trusted proxy), so a console behind HTTPS never sends its session in clear.
 */
export function sessionCookies(session: { secret: string; csrf: string } | null, maxAgeSeconds: number, secure: boolean): string[] {
  const common = `Path=/; Max-Age=${maxAgeSeconds}; SameSite=Strict${secure ? '; Secure' : ''}`;
  return [`${SESSION_COOKIE}=${session?.secret ?? ''}; ${common}; HttpOnly`, `${CSRF_COOKIE}=${session?.csrf ?? ''}; ${common}`];
}
