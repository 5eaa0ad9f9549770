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
      return is(name, 'te') ? HeaderKind.HopByHop : HeaderKind.Plain;
    case 4:
      return is(name, 'host') ? HeaderKind.Host : HeaderKind.Plain;
    case 6:
      return is(name, 'expect') ? HeaderKind.Expect : HeaderKind.Plain;
    case 7:
      return is(name, 'upgrade') ? HeaderKind.Upgrade : is(name, 'trailer') ? HeaderKind.HopByHop : HeaderKind.Plain;
    case 9:
      return is(name, 'x-api-key') ? HeaderKind.ApiKey : HeaderKind.Plain;
    case 10:
      return is(name, 'connection') ? HeaderKind.Connection : is(name, 'keep-alive') ? HeaderKind.HopByHop : HeaderKind.Plain;
    case 12:
      return is(name, 'x-request-id') ? HeaderKind.RequestId : HeaderKind.Plain;
    case 13:
      return is(name, 'authorization') ? HeaderKind.Authorization : HeaderKind.Plain;
    case 14:
      return is(name, 'content-length') ? HeaderKind.ContentLength : is(name, 'x-dozen-scopes') ? HeaderKind.ProxySet : HeaderKind.Plain;
    case 15:
      return is(name, 'x-forwarded-for') ? HeaderKind.ForwardedFor : is(name, 'x-dozen-subject') ? HeaderKind.ProxySet : HeaderKind.Plain;
    case 16:
      return is(name, 'x-forwarded-host') ? HeaderKind.ForwardedHost : is(name, 'proxy-connection') ? HeaderKind.HopByHop : HeaderKind.Plain;
    case 17:
      return is(name, 'transfer-encoding') ? HeaderKind.TransferEncoding : is(name, 'x-forwarded-proto') ? HeaderKind.ForwardedProto : HeaderKind.Plain;
    case 18:
      return is(name, 'proxy-authenticate') ? HeaderKind.HopByHop : HeaderKind.Plain;
    case 19:
      return is(name, 'proxy-authorization') ? HeaderKind.HopByHop : HeaderKind.Plain;
    default:
      return HeaderKind.Plain;
  }
}

/** `name` equals `lower` (a lowercase name of the same length) ignoring ASCII case. */
function is(name: string, lower: string): boolean {
  if (name === lower) return true;
  for (let index = 0; index < lower.length; index++) {
    const code = name.charCodeAt(index);
    if ((code >= 65 && code <= 90 ? code + 32 : code) !== lower.charCodeAt(index)) return false;
  }
  return true;
}
