/**
 * The headers an object's bytes are served with from dozen's own origin, the origin of the console
 * and its session cookie. Whoever may write an object (an app's confined token) chooses its bytes
 * and its content type, so a download must never run as a page of that origin:
 *
 * - `X-Content-Type-Options: nosniff`: the browser takes the type as given, never guesses HTML.
 * - `Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; sandbox`: if the bytes
 *   are rendered anyway, they run no script, load nothing, and live in an opaque origin without
 *   dozen's cookies (GitHub serves raw.githubusercontent.com with the same policy; the inline styles
 *   are the browser's own text and image viewers').
 * - `Cross-Origin-Resource-Policy: same-origin`: other sites' pages (apps on the same site) cannot
 *   embed an object with the admin's cookie (`<script src>`, `<img>`).
 * - `Content-Disposition: attachment` for every type but the few a browser only ever displays
 *   (`inline` for those), with the key's last segment as the file name (RFC 6266, RFC 8187).
 */
import { isMediaType } from './media-type.js';

/** Types a browser shows as text or a picture and never executes, whatever the bytes: served inline. */
const SHOWN_INLINE = new Set(['text/plain', 'image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif']);

/** RFC 8187's attr-char: what may stand unencoded in `filename*`. */
const ATTR_CHAR = /^[A-Za-z0-9!#$&+\-.^_`|~]$/;

export function downloadHeaders(key: string, storedType: string): Record<string, string> {
  // Stored before content types were checked, or by another client of the bucket: as a header it would
  // fail the whole answer (a CR LF throws in Node), so the bytes go out as what they surely are.
  const contentType = isMediaType(storedType) ? storedType : 'application/octet-stream';
  const essence = contentType.split(';')[0].trim().toLowerCase();
  return {
    'content-type': contentType,
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    'cross-origin-resource-policy': 'same-origin',
    'content-disposition': contentDisposition(SHOWN_INLINE.has(essence) ? 'inline' : 'attachment', key.slice(key.lastIndexOf('/') + 1)),
  };
}

/**
 * `attachment; filename="report.txt"; filename*=UTF-8''report.txt`. Browsers take `filename*`
 * (UTF-8, percent-encoded); `filename` is the ASCII fallback for older clients, with `"`, `\`, `%`
 * and non-ASCII replaced by `_` (RFC 6266 appendix D: some clients would unescape or decode them).
 */
export function contentDisposition(kind: 'inline' | 'attachment', fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = [...Buffer.from(fileName, 'utf8')]
    .map((byte) => (ATTR_CHAR.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
  return `${kind}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
