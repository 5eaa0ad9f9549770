/**
 * What the proxy does with a header, by name, without lowercasing or hashing
 * it: a switch on the length narrows each name to one or two candidates, then
 * one case-insensitive compare. This runs for every header of every request
 * and response, where `toLowerCase()` plus a Set lookup showed in profiles.
 */
export const enum HeaderKind {
  /** Passed on untouched. */
  Plain,
  /** Meant for one connection (RFC 9110 §7.6.1): never forwarded. */
  HopByHop,
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
}

export function headerKind(name: string): HeaderKind {
  switch (name.length) {
    case 2:
      return is(name, 'te', 'TE') ? HeaderKind.HopByHop : HeaderKind.Plain;
    case 4:
      return is(name, 'host', 'Host') ? HeaderKind.Host : HeaderKind.Plain;
    case 6:
      return is(name, 'expect', 'Expect') ? HeaderKind.Expect : HeaderKind.Plain;
    case 7:
      return is(name, 'upgrade', 'Upgrade') ? HeaderKind.Upgrade : is(name, 'trailer', 'Trailer') ? HeaderKind.HopByHop : HeaderKind.Plain;
    case 9:
      return is(name, 'x-api-key', 'X-Api-Key') ? HeaderKind.ApiKey : HeaderKind.Plain;
    case 10:
      return is(name, 'connection', 'Connection') ? HeaderKind.Connection : is(name, 'keep-alive', 'Keep-Alive') ? HeaderKind.HopByHop : HeaderKind.Plain;
    case 12:
      return is(name, 'x-request-id', 'X-Request-Id') ? HeaderKind.RequestId : HeaderKind.Plain;
    case 13:
      return is(name, 'authorization', 'Authorization') ? HeaderKind.Authorization : HeaderKind.Plain;
    case 14:
      return is(name, 'content-length', 'Content-Length') ? HeaderKind.ContentLength : is(name, 'x-dozen-scopes', 'X-Dozen-Scopes') ? HeaderKind.ProxySet : HeaderKind.Plain;
    case 15:
      return is(name, 'x-forwarded-for', 'X-Forwarded-For') ? HeaderKind.ForwardedFor : is(name, 'x-dozen-subject', 'X-Dozen-Subject') ? HeaderKind.ProxySet : HeaderKind.Plain;
    case 16:
      return is(name, 'x-forwarded-host', 'X-Forwarded-Host') ? HeaderKind.ForwardedHost : is(name, 'proxy-connection', 'Proxy-Connection') ? HeaderKind.HopByHop : HeaderKind.Plain;
    case 17:
      return is(name, 'transfer-encoding', 'Transfer-Encoding') ? HeaderKind.TransferEncoding : is(name, 'x-forwarded-proto', 'X-Forwarded-Proto') ? HeaderKind.ForwardedProto : HeaderKind.Plain;
    case 18:
      return is(name, 'proxy-authenticate', 'Proxy-Authenticate') ? HeaderKind.HopByHop : HeaderKind.Plain;
    case 19:
      return is(name, 'proxy-authorization', 'Proxy-Authorization') ? HeaderKind.HopByHop : HeaderKind.Plain;
    default:
      return HeaderKind.Plain;
  }
}

/** `name` equals `lower` (a lowercase name of the same length) ignoring ASCII case; `usual` is its usual spelling. */
function is(name: string, lower: string, usual: string): boolean {
  // The two spellings nearly every client and server use cost one comparison each.
  if (name === lower || name === usual) return true;
  for (let index = 0; index < lower.length; index++) {
    const code = name.charCodeAt(index);
    if ((code >= 65 && code <= 90 ? code + 32 : code) !== lower.charCodeAt(index)) return false;
  }
  return true;
}
