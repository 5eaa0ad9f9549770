import type { FastifyReply, FastifyRequest } from 'fastify';

/** The console's page and bundles: no page, of another site or of this one, may show them in a frame (clickjacking). */
const CONSOLE_POLICY = "frame-ancestors 'none'";
/**
 * Everything else the admin port answers is data (JSON, metrics, errors): nothing of it is to run or be
 * framed. A route may answer with a policy of its own (a stored object: src/storage/download-headers.ts);
 * X-Frame-Options still keeps it out of frames.
 */
const DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox";

/**
 * Fastify onRequest hook for every answer of the admin port, errors included: the CSP above (the console's
 * or the data's, as `isConsolePath` says), `X-Frame-Options: DENY` for browsers without `frame-ancestors`,
 * and `nosniff` so no answer is read as another type than it says.
 */
export function securityHeaders(isConsolePath: (path: string) => boolean) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    void reply
      .header('content-security-policy', isConsolePath(request.url.split('?')[0]) ? CONSOLE_POLICY : DATA_POLICY)
      .header('x-frame-options', 'DENY')
      .header('x-content-type-options', 'nosniff');
  };
}
