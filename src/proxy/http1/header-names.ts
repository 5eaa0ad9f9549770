/**
 * What the proxy does with a header, by name, without lowercasing or hashing
 * it: the length narrows each name to one or two candidates, then one
 * case-insensitive compare. This runs for every header of every request
 * and response, where `toLowerCase()` plus a Set lookup showed in profiles.
 */
export const enum HeaderKind {
  /** Passed on untouched. */
  Plain,
  /** Meant for one connection (RFC 9110 §7.6.1): never forwarded. */
  HopByHop,
  /** Hop-by-hop too; a backend's says how long it keeps an idle connection (`timeout=`). */
  KeepAlive,
  /** Set by the proxy alone: a client's value is dropped. */
  ProxySet,
  Connection,
  Host,
  ContentLength,
  TransferEncoding,
  Expect,
  Upgrade,
  Authorization,
  ApiKey,
  ForwardedFor,
  ForwardedProto,
  ForwardedHost,
  RequestId,
  /**
   * A name the proxy acts on, spelled with `_` for `-` (`X_Dozen_Subject`):
   * CGI/WSGI-style backends read it as the dashed name, so a request's copy
   * is dropped (as nginx does by default); a response's passes as Plain.
   */
  Underscored,
}

/** [lowercase name, usual spelling, kind] of every name the proxy acts on, by the name's length. */
type Named = readonly [lower: string, usual: string, kind: HeaderKind];
const BY_LENGTH: readonly (readonly Named[])[] = byLength([
  ['te', 'TE', HeaderKind.HopByHop],
  ['host', 'Host', HeaderKind.Host],
  ['expect', 'Expect', HeaderKind.Expect],
  ['upgrade', 'Upgrade', HeaderKind.Upgrade],
  ['trailer', 'Trailer', HeaderKind.HopByHop],
  ['x-api-key', 'X-Api-Key', HeaderKind.ApiKey],
  ['connection', 'Connection', HeaderKind.Connection],
  ['keep-alive', 'Keep-Alive', HeaderKind.KeepAlive],
  ['x-request-id', 'X-Request-Id', HeaderKind.RequestId],
  ['authorization', 'Authorization', HeaderKind.Authorization],
  ['content-length', 'Content-Length', HeaderKind.ContentLength],
  ['x-dozen-scopes', 'X-Dozen-Scopes', HeaderKind.ProxySet],
  ['x-forwarded-for', 'X-Forwarded-For', HeaderKind.ForwardedFor],
  ['x-dozen-subject', 'X-Dozen-Subject', HeaderKind.ProxySet],
  ['x-forwarded-host', 'X-Forwarded-Host', HeaderKind.ForwardedHost],
  ['proxy-connection', 'Proxy-Connection', HeaderKind.HopByHop],
  ['transfer-encoding', 'Transfer-Encoding', HeaderKind.TransferEncoding],
  ['x-forwarded-proto', 'X-Forwarded-Proto', HeaderKind.ForwardedProto],
  ['proxy-authenticate', 'Proxy-Authenticate', HeaderKind.HopByHop],
  ['proxy-authorization', 'Proxy-Authorization', HeaderKind.HopByHop],
]);

function byLength(names: Named[]): Named[][] {
  const table: Named[][] = [];
  for (let length = 0; length <= Math.max(...names.map(([lower]) => lower.length)); length++) table.push(names.filter(([lower]) => lower.length === length));
  return table;
}

export function headerKind(name: string): HeaderKind {
  const candidates = BY_LENGTH[name.length];
  if (candidates === undefined) return HeaderKind.Plain;
  for (let index = 0; index < candidates.length; index++) {
    const [lower, usual, kind] = candidates[index];
    // The two spellings nearly every client and server use cost one comparison each.
    if (name === lower || name === usual) return kind;
    // The slow path only for names as long as one the proxy acts on.
    if (sameName(name, lower)) return name.includes('_') ? HeaderKind.Underscored : kind;
  }
  return HeaderKind.Plain;
}

/** The kind of the name in bytes [start, end) of `bytes`, read where it lies (no string made). */
export function headerKindAt(bytes: Uint8Array, start: number, end: number): HeaderKind {
  const candidates = BY_LENGTH[end - start];
  if (candidates === undefined) return HeaderKind.Plain;
  for (let index = 0; index < candidates.length; index++) {
    const [lower, , kind] = candidates[index];
    if (bytesAre(bytes, start, lower)) return kind;
  }
  return HeaderKind.Plain;
}

/** `name` equals `lower` (a lowercase name of the same length) ignoring ASCII case, `_` read as `-`. */
function sameName(name: string, lower: string): boolean {
  for (let index = 0; index < lower.length; index++) {
    const code = name.charCodeAt(index);
    if ((code >= 65 && code <= 90 ? code + 32 : code === 95 ? 45 : code) !== lower.charCodeAt(index)) return false;
  }
  return true;
}

/** Bytes from `start` spell `lower` (lowercase ASCII) ignoring ASCII case. */
export function bytesAre(bytes: Uint8Array, start: number, lower: string): boolean {
  for (let index = 0; index < lower.length; index++) {
    const code = bytes[start + index];
    if ((code >= 65 && code <= 90 ? code + 32 : code) !== lower.charCodeAt(index)) return false;
  }
  return true;
}
