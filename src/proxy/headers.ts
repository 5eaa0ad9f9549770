import type { IncomingMessage } from 'node:http';

/** RFC 9110 §7.6.1: headers meant for one connection, never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Set by the proxy only; whatever a client sends under these names is dropped. */
const PROXY_SET = new Set(['x-dozen-subject', 'x-dozen-scopes', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id']);

const SAFE_REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

export interface Forwarded {
  /** The immediate peer (appended to X-Forwarded-For). */
  peer: string;
  /** The peer is a trusted proxy: its X-Forwarded-For / -Proto are kept. */
  trusted: boolean;
  requestId: string;
  subject: string | null;
  scopes: readonly string[] | null;
}

/** A client's X-Request-Id when it is a plain token, else a fresh one from `generate`. */
export function requestIdOf(req: IncomingMessage, generate: () => string): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : generate();
}

/**
 * The request headers as sent to a backend (a flat [name, value, ...] list, as
 * undici takes them): hop-by-hop headers and those named in Connection are
 * removed, proxy-owned headers replaced, Host kept as the client sent it.
 * `keepUpgrade` keeps Connection/Upgrade for a WebSocket handshake.
 */
export function upstreamHeaders(req: IncomingMessage, forwarded: Forwarded, keepUpgrade = false): string[] {
  const raw = req.rawHeaders;
  const connection = req.headers.connection;
  const named = connection && connection !== 'keep-alive' && connection !== 'close' ? connectionTokens(connection) : null;
  const out: string[] = [];
  for (let index = 0; index < raw.length; index += 2) {
    const name = raw[index].toLowerCase();
    if (HOP_BY_HOP.has(name) || PROXY_SET.has(name) || named?.has(name)) {
      if (keepUpgrade && (name === 'upgrade' || name === 'connection')) out.push(raw[index], raw[index + 1]);
      continue;
    }
    out.push(raw[index], raw[index + 1]);
  }
  const priorFor = forwarded.trusted ? req.headers['x-forwarded-for'] : undefined;
  out.push('x-forwarded-for', priorFor ? `${priorFor}, ${forwarded.peer}` : forwarded.peer);
  const priorProto = forwarded.trusted ? req.headers['x-forwarded-proto'] : undefined;
  out.push('x-forwarded-proto', typeof priorProto === 'string' ? priorProto : 'http');
  const priorHost = forwarded.trusted ? req.headers['x-forwarded-host'] : undefined;
  const host = typeof priorHost === 'string' ? priorHost : req.headers.host;
  if (host) out.push('x-forwarded-host', host);
  out.push('x-request-id', forwarded.requestId);
  if (forwarded.subject !== null) out.push('x-dozen-subject', forwarded.subject);
  if (forwarded.scopes?.length) out.push('x-dozen-scopes', forwarded.scopes.join(' '));
  return out;
}

/** The response headers as sent to the client: undici's raw buffers to strings, hop-by-hop removed. */
export function downstreamHeaders(raw: Buffer[], requestId: string): string[] {
  const out: string[] = [];
  let named: Set<string> | null = null;
  for (let index = 0; index < raw.length; index += 2) {
    const name = raw[index].toString('latin1');
    const lower = name.toLowerCase();
    if (lower === 'connection') {
      const value = raw[index + 1].toString('latin1');
      if (value !== 'keep-alive' && value !== 'close') named = connectionTokens(value);
      continue;
    }
    if (HOP_BY_HOP.has(lower) || lower === 'x-request-id') continue;
    out.push(name, raw[index + 1].toString('latin1'));
  }
  if (named) {
    for (let index = out.length - 2; index >= 0; index -= 2) if (named.has(out[index].toLowerCase())) out.splice(index, 2);
  }
  out.push('x-request-id', requestId);
  return out;
}

function connectionTokens(value: string): Set<string> {
  return new Set(value.split(',').map((token) => token.trim().toLowerCase()).filter(Boolean));
}
