import { redactUrlUserInfo } from '../common/url-credentials.js';

/** What the trail shows in place of a value nobody may read back from it. */
export const HIDDEN = '(hidden)';

/**
 * Names whose values never reach the trail: passwords, secrets, tokens, keys that sign or open something,
 * `value` (a deploy secret's), `url` (a robot's URL holds its key), `code` (an address confirmation code).
 */
const HIDDEN_NAMES = /password|secret|token|authorization|private_?key|api_?key|hmac_?key|^value$|^url$|^code$/i;
const PRIVATE_KEY = /PRIVATE KEY-----/;
/** Deeper than this is nobody's real input; it is cut rather than walked (and the stack kept safe). */
const MAX_DEPTH = 32;

/**
 * A copy of an audit event's detail with every secret hidden: values under the names above, at any depth
 * of objects and arrays, and secrets inside strings, which hold more than they look: JSON text (the proxy
 * policy's `{"jwt": {"secret": ...}}` is a GraphQL String), a URL's user and password, a PEM private key.
 * Every event passes here on its way in, whichever module wrote it.
 */
export function redacted(detail: Record<string, unknown>): Record<string, unknown> {
  return redactObject(detail, 0);
}

function redactObject(object: Record<string, unknown>, depth: number): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).map(([name, value]) => [name, HIDDEN_NAMES.test(name) ? HIDDEN : redactValue(value, depth + 1)]));
}

function redactValue(value: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) return HIDDEN;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  if (value !== null && typeof value === 'object') return redactObject(value as Record<string, unknown>, depth);
  return typeof value === 'string' ? redactString(value, depth) : value;
}

function redactString(text: string, depth: number): string {
  if (PRIVATE_KEY.test(text)) return HIDDEN;
  const start = text.trimStart()[0];
  if (start === '{' || start === '[') {
    const json = parsedJson(text);
    if (json !== undefined) return JSON.stringify(redactValue(json, depth));
    // Text that only starts like JSON (a failed setProxyPolicy): a secret in it cannot be told apart, so it all goes.
    if (HIDDEN_NAMES.test(text.replace(/[^a-z]/gi, ''))) return HIDDEN;
  }
  return redactUrlUserInfo(text);
}

function parsedJson(text: string): object | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' ? parsed : undefined;
  } catch {
    return undefined;
  }
}
