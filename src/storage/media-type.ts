/**
 * RFC 9110's media-type (section 8.3.1): `type "/" subtype *( OWS ";" OWS [ name "=" value ] )`,
 * each name a token and each value a token or a quoted-string. An object's content type is sent
 * back as a header on every GET, so a value outside this grammar (a CR LF, a bare word) would be
 * stored once and then fail every download. ASCII only: RFC 9110 keeps other bytes only as
 * obsolete text, and they are no part of any registered type.
 */
const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const QUOTED_STRING = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e]|\\\\[\\t \\x20-\\x7e])*"';
const PARAMETER = `${TOKEN}=(?:${TOKEN}|${QUOTED_STRING})`;
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[\\t ]*;[\\t ]*(?:${PARAMETER})?)*$`);

/** Room for any registered type with a charset or boundary; a header of kilobytes is no content type. */
export const MAX_MEDIA_TYPE_LENGTH = 1024;

/** What a 400 says about a content type that is not one. */
export const MEDIA_TYPE_RULE = `must be a media type as RFC 9110 defines it (type/subtype, then optional ; name=value parameters; ASCII, at most ${MAX_MEDIA_TYPE_LENGTH} characters)`;

export function isMediaType(value: string): boolean {
  return value.length <= MAX_MEDIA_TYPE_LENGTH && MEDIA_TYPE.test(value);
}
