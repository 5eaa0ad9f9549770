import { HeaderKind, headerKind } from './http1/header-names.js';
import type { RequestHead } from './http1/request-head.js';

const SAFE_REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

export interface Forwarded {
  /** The peer is a trusted proxy: its X-Forwarded-For / -Proto / -Host are kept. */
  trusted: boolean;
  requestId: string;
  subject: string | null;
  scopes: readonly string[] | null;
}

/** A client's X-Request-Id when it is a plain token, else a fresh one from `generate`. */
export function requestIdOf(head: RequestHead, generate: () => string): string {
  const given = head.headers['x-request-id'];
  return given !== undefined && SAFE_REQUEST_ID.test(given) ? given : generate();
}

/** Thrown for a head that parses but must not be served (two Host headers, an unknown transfer coding): 400. */
export class BadHead extends Error {}

/** Transfer codings a request body may carry before its final `chunked` (RFC 9110 §8.4.1, §18.6). */
const CODINGS = new Set(['gzip', 'x-gzip', 'deflate', 'compress', 'x-compress', 'br', 'zstd']);

/**
 * How a request body is framed, decided once from the Transfer-Encoding and
 * Content-Length values as received; what the backend is told is made from
 * this, never from what is left of the client's header lines. Refused (400,
 * before any byte goes to a backend): both headers, a coding list that does
 * not end in exactly one `chunked` (`identity`, `xchunked`, `chunked, gzip`),
 * an unknown coding.
 */
export function requestFraming(transferEncoding: string | null, contentLength: string | null): 'none' | 'length' | 'chunked' {
  if (transferEncoding === null) return contentLength === null || ZEROS.test(contentLength) ? 'none' : 'length';
  if (contentLength !== null) throw new BadHead('a request may not carry both Content-Length and Transfer-Encoding');
  if (transferEncoding === 'chunked') return 'chunked';
  const codings = transferEncoding.split(',').map((coding) => coding.trim().toLowerCase());
  for (let index = 0; index < codings.length; index++) {
    const coding = codings[index];
    const last = index === codings.length - 1;
    if (last ? coding !== 'chunked' : !CODINGS.has(coding)) throw new BadHead(`the Transfer-Encoding ${JSON.stringify(transferEncoding)} is not one this proxy forwards (a known coding list ending in chunked)`);
  }
  return 'chunked';
}

const ZEROS = /^0+$/;

/**
 * The request head as sent to a backend, ready to write: hop-by-hop headers
 * and those named in Connection removed, proxy-owned headers (and their
 * underscore spellings) replaced, Host as the proxy routed it, Expect dropped
 * (the proxy answers 100-continue itself), and the body's framing written by
 * the proxy from what it parsed: Connection can name Host, Content-Length or
 * Transfer-Encoding, but never take them away (that was request smuggling:
 * a body sent without its length reads as the next request).
 * `keepUpgrade` keeps Upgrade, with `Connection: upgrade`, for a WebSocket handshake.
 */
export function upstreamHead(head: RequestHead, forwarded: Forwarded, keepUpgrade = false): string {
  const raw = head.rawHeaders;
  const known = head.headers;
  const connection = known.connection;
  const named = connection !== undefined && connection !== 'keep-alive' && connection !== 'close' ? connectionTokens(connection) : null;
  let out = `${head.method} ${head.url} HTTP/1.1\r\n`;
  for (let index = 0; index < raw.length; index += 2) {
    const kind = headerKind(raw[index]);
    if (kind === HeaderKind.Plain || kind === HeaderKind.Authorization || kind === HeaderKind.ApiKey) {
      if (named === null || !named.has(raw[index].toLowerCase())) out += `${raw[index]}: ${raw[index + 1]}\r\n`;
    } else if (kind === HeaderKind.Host) {
      out += `${raw[index]}: ${known.host}\r\n`;
    } else if (keepUpgrade && kind === HeaderKind.Upgrade) {
      out += `${raw[index]}: ${raw[index + 1]}\r\n`;
    }
  }
  const priorFor = forwarded.trusted ? known['x-forwarded-for'] : undefined;
  out += `x-forwarded-for: ${priorFor ? `${priorFor}, ${head.peer}` : head.peer}\r\n`;
  out += `x-forwarded-proto: ${(forwarded.trusted && known['x-forwarded-proto']) || (head.secure ? 'https' : 'http')}\r\n`;
  const host = (forwarded.trusted && known['x-forwarded-host']) || known.host;
  if (host) out += `x-forwarded-host: ${host}\r\n`;
  out += `x-request-id: ${forwarded.requestId}\r\n`;
  if (forwarded.subject !== null) out += `x-dozen-subject: ${headerSafe(forwarded.subject)}\r\n`;
  if (forwarded.scopes?.length) out += `x-dozen-scopes: ${headerSafe(forwarded.scopes.join(' '))}\r\n`;
  // The client's Connection list is its own hop's: the backend hears only that this is an upgrade.
  if (keepUpgrade) out += 'connection: upgrade\r\n';
  if (head.body === 'chunked') out += `transfer-encoding: ${head.transferEncoding}\r\n`;
  else if (head.contentLength !== null) out += `content-length: ${head.contentLength}\r\n`;
  return out + '\r\n';
}

/** A backend's response headers as sent to the client (each line ending in CRLF), and how its body was framed. */
export interface DownstreamHeaders {
  lines: string;
  /** The backend sent a Content-Length (kept in `lines`). */
  hasLength: boolean;
}

/** The response headers for the client: hop-by-hop removed, X-Request-Id set by the proxy, then `ownLines` (HSTS over TLS). */
export function downstreamHeaders(raw: string[], requestId: string, ownLines = ''): DownstreamHeaders {
  let lines = '';
  let hasLength = false;
  let named: Set<string> | null = null;
  for (let index = 0; index < raw.length; index += 2) {
    const kind = headerKind(raw[index]);
    if (kind === HeaderKind.Connection) {
      const value = raw[index + 1];
      // Each Connection field names headers to drop (RFC 9110 7.6.1: the fields are one list).
      if (value !== 'keep-alive' && value !== 'close') for (const token of connectionTokens(value)) (named ??= new Set()).add(token);
      continue;
    }
    // Hop-by-hop names go; so does the backend's X-Request-Id (the proxy's is the one the client gets).
    if (kind === HeaderKind.HopByHop || kind === HeaderKind.KeepAlive || kind === HeaderKind.TransferEncoding || kind === HeaderKind.Upgrade || kind === HeaderKind.RequestId) continue;
    if (kind === HeaderKind.ContentLength) hasLength = true;
    lines += `${raw[index]}: ${raw[index + 1]}\r\n`;
  }
  // Rare: Connection names more headers to drop (and may come after them), so the lines are made again without those.
  if (named !== null) {
    const drop = named;
    const kept = raw.filter((_, index) => {
      const name = raw[index - (index % 2)];
      return headerKind(name) !== HeaderKind.Connection && !drop.has(name.toLowerCase());
    });
    return downstreamHeaders(kept, requestId, ownLines);
  }
  return { lines: lines + `x-request-id: ${requestId}\r\n` + ownLines, hasLength };
}

/**
 * The `timeout=` of a backend's Keep-Alive header (RFC 9112 appendix C.2.2, what Node's and Apache's
 * servers send): how many seconds it keeps an idle connection; -1 when it says nothing. The first header
 * that has one counts (plain-response.ts reads it the same way).
 */
export function keepAliveSecondsOf(raw: string[]): number {
  for (let index = 0; index < raw.length; index += 2) {
    if (raw[index].length === 10 && headerKind(raw[index]) === HeaderKind.KeepAlive) {
      const match = KEEP_ALIVE_TIMEOUT.exec(raw[index + 1]);
      if (match) return Number(match[1]);
    }
  }
  return -1;
}

const KEEP_ALIVE_TIMEOUT = /(?:^|[,;\s])timeout\s*=\s*(\d{1,9})(?![\d])/i;

/** Token claims are the client's words: control characters would split the header (CR LF injection). */
function headerSafe(value: string): string {
  return CONTROL.test(value) ? value.replace(CONTROL_ALL, ' ') : value;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_ALL = /[\x00-\x1f\x7f]/g;

function connectionTokens(value: string): Set<string> {
  return new Set(value.split(',').map((token) => token.trim().toLowerCase()).filter(Boolean));
}
