/**
 * The request target, read once the way a backend would read it, so that
 * what the proxy routes and checks scopes on is what the backend serves
 * (RFC 9112 §3.2, RFC 3986 §6.2.2). Plain functions of strings, shared by
 * every engine.
 */

/** A target that cannot be normalised safely (an encoded `/` or NUL, a bad escape, an unknown form): 400. */
export class BadTarget extends Error {}

/**
 * The authority of an absolute-form target (`http://host:8080/path`), which
 * wins over Host (RFC 9112 §3.2.2); null for origin form (`/path`) and `*`.
 */
export function targetAuthority(target: string): string | null {
  if (target.charCodeAt(0) === SLASH || target === '*') return null;
  const scheme = target.indexOf('://');
  const name = scheme > 0 ? target.slice(0, scheme).toLowerCase() : '';
  if (name !== 'http' && name !== 'https') throw new BadTarget('the request target must be a path (/...) or an http:// URL');
  const start = scheme + 3;
  let end = start;
  while (end < target.length && target[end] !== '/' && target[end] !== '?') end++;
  const authority = target.slice(start, end);
  if (!authority || authority.includes('@')) throw new BadTarget('the request target names no host, or a host with user information');
  return authority;
}

/**
 * The target as the backend gets it, in origin form: an absolute-form
 * target loses its scheme and authority; the path has unreserved characters
 * percent-decoded (other escapes upper-cased), dot segments removed and
 * repeated slashes merged; the query is left as sent. Most targets need
 * nothing of this: one scan proves it and the same string comes back.
 */
export function originForm(target: string): string {
  if (target.charCodeAt(0) !== SLASH) {
    if (target === '*') return target;
    targetAuthority(target); // refuses what is no http(s) URL with a host
    const scheme = target.indexOf('://');
    const path = target.slice(scheme + 3).search(/[/?]/);
    if (path < 0) return '/';
    target = target.slice(scheme + 3 + path);
    if (target.charCodeAt(0) !== SLASH) target = '/' + target;
  }
  const query = target.indexOf('?');
  const end = query < 0 ? target.length : query;
  if (isNormal(target, end)) return target;
  const path = normalizePath(target.slice(0, end));
  return query < 0 ? path : path + target.slice(query);
}

/** No `%`, no `\`, no `//`, no `/.` before `end`: nothing to decode, refuse, merge or remove. */
function isNormal(target: string, end: number): boolean {
  for (let index = 0; index < end; index++) {
    const code = target.charCodeAt(index);
    if (code === PERCENT || code === BACKSLASH) return false;
    if (code === SLASH && index + 1 < end) {
      const next = target.charCodeAt(index + 1);
      if (next === SLASH || next === DOT) return false;
    }
  }
  return true;
}

function normalizePath(path: string): string {
  // No URI holds a `\` (RFC 3986 §2), yet WHATWG URL parsers (and Windows servers) read it as `/`:
  // `/x\..\admin` would pass a scope check on `/admin` and reach `/admin` at such a backend.
  if (path.includes('\\')) throw new BadTarget('the request target has a \\ in its path');
  const decoded = decodeUnreserved(path);
  const segments: string[] = [];
  const parts = decoded.split('/');
  // parts[0] is the empty string before the leading slash.
  for (let index = 1; index < parts.length; index++) {
    const segment = parts[index];
    const last = index === parts.length - 1;
    if (segment === '..') {
      segments.pop();
      if (last) segments.push('');
    } else if (segment === '.' || segment === '') {
      // A trailing empty or dot segment keeps the trailing slash; inner ones merge away.
      if (last && segments[segments.length - 1] !== '') segments.push('');
    } else {
      segments.push(segment);
    }
  }
  return '/' + segments.join('/');
}

/** `%61` -> `a`; `%2f`, `%5c` and `%00` refused (they would change the path's structure for some backend); other escapes upper-cased. */
function decodeUnreserved(path: string): string {
  let out = '';
  let from = 0;
  for (let index = path.indexOf('%'); index >= 0; index = path.indexOf('%', from)) {
    const value = parseInt(path.slice(index + 1, index + 3), 16);
    if (!HEX.test(path.slice(index + 1, index + 3))) throw new BadTarget('the request target has a % not followed by two hex digits');
    if (value === SLASH || value === BACKSLASH || value === 0) throw new BadTarget('the request target has an encoded /, \\ or NUL');
    out += path.slice(from, index) + (isUnreserved(value) ? String.fromCharCode(value) : path.slice(index, index + 3).toUpperCase());
    from = index + 3;
  }
  return out + path.slice(from);
}

/** RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~" */
function isUnreserved(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || (code >= 48 && code <= 57) || code === 45 || code === DOT || code === 95 || code === 126;
}

const SLASH = 47;
const BACKSLASH = 92;
const DOT = 46;
const PERCENT = 37;
const HEX = /^[0-9a-fA-F]{2}$/;
