import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The console's page and bundles: only the console's own bundle runs, its own stylesheet styles, it talks to
 * its own origin (the API, GraphQL and the hub's WebSockets), and no page, of another site or of this one,
 * may show it in a frame (clickjacking). A second line behind the console's escaping: an injected
 * `<script>`, inline handler or foreign script is refused by the browser. `data:` images: the favicon.
 */
export const CONSOLE_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');
/**
 * Everything else the admin port answers is data (JSON, metrics, errors): nothing of it is to run or be
 * framed. A route may answer with a policy of its own (a stored object: src/storage/download-headers.ts);
 * X-Frame-Options still keeps it out of frames.
 */
const DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox";

/**
 * Fastify onRequest hook for every answer of the admin port, errors included: the CSP above (the console's
 * or the data's, as `isConsolePath` says), `X-Frame-Options: DENY` for browsers without `frame-ancestors`,
 * `nosniff` so no answer is read as another type than it says, and `Referrer-Policy: same-origin`.
 */
export function securityHeaders(isConsolePath: (path: string) => boolean) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    void reply
      .header('content-security-policy', isConsolePath(request.url.split('?')[0]) ? CONSOLE_POLICY : DATA_POLICY)
      .header('x-frame-options', 'DENY')
      .header('x-content-type-options', 'nosniff')
      // The console's URLs (a room, an app, an object key) are nobody else's business.
      .header('referrer-policy', 'same-origin');
  };
}
