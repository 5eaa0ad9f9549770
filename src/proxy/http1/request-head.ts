/** The request headers the proxy itself reads, lowercased; the rest pass through untouched. */
export interface KnownHeaders {
  host?: string;
  authorization?: string;
  'x-api-key'?: string;
  'x-forwarded-for'?: string;
  'x-forwarded-proto'?: string;
  'x-forwarded-host'?: string;
  'x-request-id'?: string;
  connection?: string;
  expect?: string;
}

/** One client request's head as llhttp parsed it. */
export interface RequestHead {
  method: string;
  /** The request target as sent (origin form: path and query). */
  url: string;
  /** HTTP/1.0 (no chunked responses, keep-alive only when asked for). */
  http10: boolean;
  /** [name, value, name, value, ...] as received. */
  rawHeaders: string[];
  headers: KnownHeaders;
  keepAlive: boolean;
  /** An Upgrade handshake (WebSocket): the connection leaves HTTP after it. */
  upgrade: boolean;
  /** How the body is framed (llhttp refused every ambiguous combination already). */
  body: 'none' | 'length' | 'chunked';
  /** The socket's peer address. */
  peer: string;
}

const KNOWN = new Set<string>(['host', 'authorization', 'x-api-key', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'connection', 'expect']);
/** Repeated, these are one comma-separated list (RFC 9110 §5.3); any other repeat keeps the first value. */
const LISTS = new Set<string>(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'connection', 'expect']);

/** Thrown for a head that parses but must not be served (two Host headers). */
export class BadHead extends Error {}

export function requestHead(method: string, url: string, versionMinor: number, rawHeaders: string[], keepAlive: boolean, upgrade: boolean, peer: string): RequestHead {
  const headers: KnownHeaders = {};
  let body: RequestHead['body'] = 'none';
  for (let index = 0; index < rawHeaders.length; index += 2) {
    const name = rawHeaders[index].toLowerCase();
    if (name === 'content-length') {
      if (body === 'none' && rawHeaders[index + 1] !== '0') body = 'length';
      continue;
    }
    if (name === 'transfer-encoding') {
      // llhttp accepts a request's Transfer-Encoding only when chunked comes last.
      body = 'chunked';
      continue;
    }
    if (!KNOWN.has(name)) continue;
    const key = name as keyof KnownHeaders;
    const value = rawHeaders[index + 1];
    const prior = headers[key];
    if (prior === undefined) headers[key] = value;
    else if (LISTS.has(name)) headers[key] = `${prior}, ${value}`;
    else if (name === 'host') throw new BadHead('a request may carry one Host header');
  }
  return { method, url, http10: versionMinor === 0, rawHeaders, headers, keepAlive, upgrade, body, peer };
}

/** The path without its query. */
export function pathOnly(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}
