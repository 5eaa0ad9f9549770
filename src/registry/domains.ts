import { z } from 'zod';

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
/** RFC 1123 host name (labels of letters, digits and inner hyphens, 1-63 each), with one optional leading `*.`. */
const DOMAIN = new RegExp(`^(?:\\*\\.)?${LABEL}(?:\\.${LABEL})*$`);

/** True for `chat.app.example.net` and `*.app.example.net`; false for `*`, `a.*.b`, `-x.net`, `x..net`. */
export function isDomain(name: string): boolean {
  return name.length <= 253 && DOMAIN.test(name);
}

/** A domain as clients send it: trimmed of a trailing dot, compared in lower case. */
export const domainSchema = z
  .string()
  .transform((name) => name.toLowerCase().replace(/\.$/, ''))
  .refine(isDomain, 'expected an RFC 1123 host name, optionally starting with one "*." (like chat.app.example.net or *.app.example.net)');
