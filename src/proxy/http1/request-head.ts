import { BadHead, requestFraming } from '../headers.js';
import { HeaderKind, headerKind } from './header-names.js';

export { BadHead };

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
  /** How the body is framed (see requestFraming: every ambiguous or unknown combination is refused). */
  body: 'none' | 'length' | 'chunked';
  /** The Content-Length as sent (digits), or null. */
  contentLength: string | null;
  /** The Transfer-Encoding codings as sent (a list ending in chunked), or null. */
  transferEncoding: string | null;
  /** The socket's peer address. */
  peer: string;
  /** Received over TLS (set by the TLS listener; absent on the plain one). */
  secure?: true;
}

export function requestHead(method: string, url: string, versionMinor: number, rawHeaders: string[], keepAlive: boolean, upgrade: boolean, peer: string): RequestHead {
  const headers: KnownHeaders = {};
  let contentLength: string | null = null;
  let transferEncoding: string | null = null;
  for (let index = 0; index < rawHeaders.length; index += 2) {
    const value = rawHeaders[index + 1];
    switch (headerKind(rawHeaders[index])) {
      case HeaderKind.ContentLength:
        if (contentLength !== null) throw new BadHead('a request may carry one Content-Length header');
        contentLength = value;
        break;
      case HeaderKind.TransferEncoding:
        transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
        break;
      case HeaderKind.Host:
        if (headers.host !== undefined) throw new BadHead('a request may carry one Host header');
        headers.host = value;
        break;
      case HeaderKind.Authorization:
        headers.authorization ??= value;
        break;
      case HeaderKind.ApiKey:
        headers['x-api-key'] ??= value;
        break;
      case HeaderKind.RequestId:
        headers['x-request-id'] ??= value;
        break;
      // Repeated, these are one comma-separated list (RFC 9110 §5.3).
      case HeaderKind.ForwardedFor:
        headers['x-forwarded-for'] = listed(headers['x-forwarded-for'], value);
        break;
      case HeaderKind.ForwardedProto:
        headers['x-forwarded-proto'] = listed(headers['x-forwarded-proto'], value);
        break;
      case HeaderKind.ForwardedHost:
        headers['x-forwarded-host'] = listed(headers['x-forwarded-host'], value);
        break;
      case HeaderKind.Connection:
        headers.connection = listed(headers.connection, value);
        break;
      case HeaderKind.Expect:
        headers.expect = listed(headers.expect, value);
        break;
    }
  }
  // RFC 9112 §3.2: an HTTP/1.1 request without a Host (or with an empty one), or any request with a Host that is not one, is answered 400.
  if (versionMinor !== 0 && !headers.host) throw new BadHead('an HTTP/1.1 request needs a Host header');
  if (headers.host && !HOST.test(headers.host)) throw new BadHead('the Host header is not a host with an optional port');
  // RFC 9112 §3.2.4: the asterisk form is for OPTIONS only.
  if (url === '*' && method !== 'OPTIONS') throw new BadHead('only OPTIONS may have the request target *');
  const body = requestFraming(transferEncoding, contentLength);
  return { method, url, http10: versionMinor === 0, rawHeaders, headers, keepAlive, upgrade, body, contentLength, transferEncoding, peer };
}

/** RFC 3986's host (an IP literal, or a reg-name: letters, digits, -._~, sub-delims, %XX) and optional port. */
const HOST = /^(?:\[[0-9A-Za-z:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]*)?$/;

function listed(prior: string | undefined, value: string): string {
  return prior === undefined ? value : `${prior}, ${value}`;
}

/** The path without its query. */
export function pathOnly(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}
