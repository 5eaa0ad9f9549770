/**
 * The two request signatures OSS checks, written from Alibaba Cloud's
 * documentation (not from an SDK), for the OSS API stand-in:
 *
 * - V1, `Authorization: OSS <AccessKeyId>:<Signature>`:
 *   https://www.alibabacloud.com/help/en/oss/developer-reference/include-signatures-in-the-authorization-header
 * - V4, `Authorization: OSS4-HMAC-SHA256 Credential=<AccessKeyId>/<date>/<region>/oss/aliyun_v4_request,
 *   [AdditionalHeaders=<names>,]Signature=<hex>`:
 *   https://www.alibabacloud.com/help/en/oss/developer-reference/recommend-to-use-signature-version-4
 *
 * Both take the request as it arrived (method, bucket, decoded key, raw query,
 * headers) and `now`, so a published test vector can be checked too.
 */
import { createHash, createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface SignedRequest {
  method: string;
  bucket: string;
  /** The object key, percent-decoded; '' for a bucket operation. */
  key: string;
  /** The query string as sent, without the `?`. */
  rawQuery: string;
  /** Header names in lower case, as Node gives them. */
  headers: IncomingHttpHeaders;
}

export interface SigningCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  /** The bucket's region as V4 scopes it (`cn-hangzhou`, without `oss-`). */
  region: string;
}

/** Why OSS would refuse the request: its HTTP status and error code. */
export interface SignatureProblem {
  status: number;
  code: string;
  message: string;
}

/** OSS refuses requests whose time is more than 15 minutes away from its own. */
const MAX_SKEW_MS = 15 * 60_000;

/** Query parameters that are sub-resources, and so part of the V1 string to sign (the documented list, abridged to those used). */
const SUB_RESOURCES = new Set(['acl', 'append', 'continuation-token', 'delete', 'objectMeta', 'partNumber', 'position', 'security-token', 'symlink', 'tagging', 'uploadId', 'uploads', 'versionId', 'versioning', 'versions', 'x-oss-process']);

export function signatureVersionOf(headers: IncomingHttpHeaders): 'v1' | 'v4' | null {
  const authorization = header(headers, 'authorization') ?? '';
  if (authorization.startsWith('OSS4-HMAC-SHA256 ')) return 'v4';
  if (authorization.startsWith('OSS ')) return 'v1';
  return null;
}

/** V1: base64 HMAC-SHA1 over VERB, Content-MD5, Content-Type, Date (or x-oss-date), the sorted x-oss-* headers and the canonical resource with its sub-resources. */
export function checkV1(request: SignedRequest, credentials: SigningCredentials, now = Date.now()): SignatureProblem | null {
  const match = /^OSS ([^:]+):(.+)$/.exec(header(request.headers, 'authorization') ?? '');
  if (!match) return denied('Authorization: OSS <AccessKeyId>:<Signature> is required');
  if (match[1] !== credentials.accessKeyId) return unknownKey();
  const date = header(request.headers, 'x-oss-date') ?? header(request.headers, 'date') ?? '';
  if (!date || Math.abs(Date.parse(date) - now) > MAX_SKEW_MS) return skewed();
  const ossHeaders = Object.entries(request.headers)
    .filter(([name]) => name.startsWith('x-oss-'))
    .map(([name, value]) => `${name}:${String(value).trim()}`)
    .sort();
  const subResources = queryPairs(request.rawQuery)
    .filter(([name]) => SUB_RESOURCES.has(name))
    .sort(([left], [right]) => compare(left, right))
    .map(([name, value]) => (value === '' ? name : `${name}=${value}`));
  const resource = `/${request.bucket}/${request.key}` + (subResources.length ? `?${subResources.join('&')}` : '');
  const toSign = [request.method, header(request.headers, 'content-md5') ?? '', header(request.headers, 'content-type') ?? '', date, ...ossHeaders, resource].join('\n');
  const expected = createHmac('sha1', credentials.accessKeySecret).update(toSign, 'utf8').digest('base64');
  return expected === match[2] ? null : mismatch(`String to sign: ${JSON.stringify(toSign)}`);
}

/**
 * V4: hex HMAC-SHA256, with a key derived from `aliyun_v4` + secret through the
 * date, region, `oss` and `aliyun_v4_request`, over the string to sign
 * (`OSS4-HMAC-SHA256`, x-oss-date, the scope, the SHA-256 of the canonical request).
 */
export function checkV4(request: SignedRequest, credentials: SigningCredentials, now = Date.now()): SignatureProblem | null {
  const fields = new Map<string, string>();
  for (const part of (header(request.headers, 'authorization') ?? '').replace(/^OSS4-HMAC-SHA256 /, '').split(',')) {
    const at = part.indexOf('=');
    if (at > 0) fields.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  const credential = fields.get('Credential');
  const signature = fields.get('Signature');
  if (!credential || !signature) return denied('OSS4-HMAC-SHA256 needs Credential and Signature');
  // An AdditionalHeaders field may be left out, but not left empty (EC 0002-00000209).
  if (fields.has('AdditionalHeaders') && !fields.get('AdditionalHeaders')) return denied('AdditionalHeaders is empty');
  const [accessKeyId, signDate, region, product, terminator, ...extra] = credential.split('/');
  if (extra.length || product !== 'oss' || terminator !== 'aliyun_v4_request' || !/^\d{8}$/.test(signDate ?? '')) {
    return denied(`Credential must be <AccessKeyId>/<YYYYMMDD>/<region>/oss/aliyun_v4_request, got ${credential}`);
  }
  if (accessKeyId !== credentials.accessKeyId) return unknownKey();
  const timestamp = header(request.headers, 'x-oss-date') ?? '';
  const time = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(timestamp);
  if (!time) return denied('x-oss-date must be the ISO 8601 basic time yyyyMMddTHHmmssZ');
  if (Math.abs(Date.UTC(+time[1], +time[2] - 1, +time[3], +time[4], +time[5], +time[6]) - now) > MAX_SKEW_MS) return skewed();
  if (signDate !== timestamp.slice(0, 8)) return denied(`the date in Credential (${signDate}) is not the date of x-oss-date (${timestamp})`);
  if (region !== credentials.region) return denied(`the region in Credential (${region}) is not the bucket's region (${credentials.region})`);
  // The only payload hash OSS takes in the Authorization header (EC 0002-00000214).
  const payload = header(request.headers, 'x-oss-content-sha256');
  if (payload !== 'UNSIGNED-PAYLOAD') return denied('x-oss-content-sha256: UNSIGNED-PAYLOAD is required');

  const additional = (fields.get('AdditionalHeaders') ?? '').split(';').filter(Boolean);
  if (additional.some((name, index) => name !== name.toLowerCase() || (index > 0 && additional[index - 1] >= name))) return denied('AdditionalHeaders must be lower case, sorted, without repeats');
  const missing = additional.find((name) => header(request.headers, name) === undefined);
  if (missing) return denied(`the additional header ${missing} is not in the request`);

  const canonicalRequest = [
    request.method,
    // The resource path, /<bucket>/<key>, URI-encoded but for its slashes.
    uriEncode(`/${request.bucket}/${request.key}`, false),
    // Every query parameter, encoded, sorted by name; one without a value is its name alone.
    queryPairs(request.rawQuery)
      .map(([name, value]) => [uriEncode(name, true), uriEncode(value, true)])
      .sort(([left], [right]) => compare(left, right))
      .map(([name, value]) => (value === '' ? name : `${name}=${value}`))
      .join('&'),
    // Content-Type, Content-MD5, every x-oss-* header and the additional ones: `name:trimmed value\n`, sorted by name.
    Object.keys(request.headers)
      .filter((name) => name === 'content-type' || name === 'content-md5' || name.startsWith('x-oss-') || additional.includes(name))
      .sort(compare)
      .map((name) => `${name}:${header(request.headers, name)!.trim()}\n`)
      .join(''),
    additional.join(';'),
    payload,
  ].join('\n');
  const scope = `${signDate}/${region}/oss/aliyun_v4_request`;
  const stringToSign = ['OSS4-HMAC-SHA256', timestamp, scope, createHash('sha256').update(canonicalRequest, 'utf8').digest('hex')].join('\n');
  let signingKey = hmac(`aliyun_v4${credentials.accessKeySecret}`, signDate);
  for (const step of [region, 'oss', 'aliyun_v4_request']) signingKey = hmac(signingKey, step);
  const expected = createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest('hex');
  return expected === signature ? null : mismatch(`Canonical request: ${JSON.stringify(canonicalRequest)}; string to sign: ${JSON.stringify(stringToSign)}`);
}

/** Name/value pairs of a raw query string, percent-decoded (`+` is a space, as in a form-encoded query). */
function queryPairs(rawQuery: string): [string, string][] {
  return rawQuery
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const at = pair.indexOf('=');
      const [name, value] = at < 0 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)];
      return [decode(name), decode(value)];
    });
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return text;
  }
}

/** RFC 3986 percent-encoding of the UTF-8 bytes: only A-Z a-z 0-9 - _ . ~ stay as they are (and `/`, unless `encodeSlash`). */
function uriEncode(text: string, encodeSlash: boolean): string {
  let encoded = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    encoded += /[A-Za-z0-9\-_.~]/.test(char) || (char === '/' && !encodeSlash) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** Byte order of ASCII strings, as the documentation's "lexicographic order". */
function compare(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function denied(message: string): SignatureProblem {
  return { status: 403, code: 'AccessDenied', message };
}

function unknownKey(): SignatureProblem {
  return { status: 403, code: 'InvalidAccessKeyId', message: 'The OSS Access Key Id you provided does not exist in our records.' };
}

function skewed(): SignatureProblem {
  return { status: 403, code: 'RequestTimeTooSkewed', message: 'The difference between the request time and the current time is too large.' };
}

function mismatch(detail: string): SignatureProblem {
  return { status: 403, code: 'SignatureDoesNotMatch', message: `The request signature we calculated does not match the signature you provided. ${detail}` };
}
