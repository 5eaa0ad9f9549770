import type { UpstreamFailure } from '../http1/upstream-connection.js';

/**
 * Header lists between headers.ts (which writes heads as text, for the fast
 * engine's sockets) and the APIs of the HTTP/2 path (flat name/value
 * arrays for undici and ServerResponse.writeHead), and undici's errors in the
 * fast engine's words.
 */

/**
 * A request head as upstreamHead writes it, as [name, value, ...] for undici,
 * without the request line and without Transfer-Encoding (undici frames a
 * streamed body itself and refuses the header).
 */
export function splitHead(head: string): string[] {
  return splitLines(head.slice(head.indexOf('\r\n') + 2), 'transfer-encoding');
}

/** `name: value\r\n` lines as [name, value, ...], leaving out `except` (lowercase). */
export function splitLines(lines: string, except = ''): string[] {
  const out: string[] = [];
  let at = 0;
  for (;;) {
    const end = lines.indexOf('\r\n', at);
    if (end <= at) return out;
    const colon = lines.indexOf(':', at);
    const name = lines.slice(at, colon);
    if (!except || name.length !== except.length || name.toLowerCase() !== except) out.push(name, lines.slice(colon + 2, end));
    at = end + 2;
  }
}

/** undici's error codes as the access log and metrics name backend failures. */
export function failureOf(error: Error): UpstreamFailure {
  switch ((error as { code?: string }).code) {
    case 'ECONNREFUSED':
      return 'connect_refused';
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'connect_timeout';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'headers_timeout';
    case 'UND_ERR_BODY_TIMEOUT':
      return 'idle_timeout';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'reset';
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_INFO':
      return 'bad_response';
    default:
      return error.name === 'HTTPParserError' || (error as { code?: string }).code?.startsWith('HPE_') ? 'bad_response' : 'upstream_error';
  }
}
