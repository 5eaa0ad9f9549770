import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { BadInput, DomainError } from '../../common/errors.js';

export type Provider = 'github' | 'gitea' | 'gitlab';

/** A delivery whose signature (or token) does not match the app's webhook secret, or carries none. */
export class BadSignature extends DomainError {
  constructor(message: string) {
    super(401, 'unauthorized', message);
  }
}

/** What a verified delivery says. `push` is null for other events (GitHub's `ping`, a tag event, ...). */
export interface Delivery {
  provider: Provider;
  event: string;
  /** The provider's delivery id, for the log and the audit trail. */
  id: string | null;
  push: { ref: string; commit: string } | null;
}

const ZERO_COMMIT = /^0+$/;

/**
 * Checks a webhook delivery against the app's secret, in constant time, then reads it:
 * - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`, event in `X-GitHub-Event`
 *   (the body JSON, or form-encoded with the JSON in `payload`);
 * - Gitea: `X-Gitea-Signature: <hex HMAC-SHA256 of the raw body>`, event in `X-Gitea-Event` (Gitea sends
 *   GitHub's headers too, so its own are looked at first);
 * - GitLab: `X-Gitlab-Token: <the secret itself>`, event in `X-Gitlab-Event` (`Push Hook`).
 * A push names `ref` (`refs/heads/<branch>`) and `after` (the commit the branch now points at).
 */
export function readDelivery(headers: IncomingHttpHeaders, body: Buffer, contentType: string | undefined, secret: string): Delivery {
  const header = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  let provider: Provider;
  if (header('x-gitlab-token') !== undefined) {
    provider = 'gitlab';
    if (!sameSecret(header('x-gitlab-token')!, secret)) throw new BadSignature('X-Gitlab-Token does not match the webhook secret');
  } else if (header('x-gitea-signature') !== undefined) {
    provider = 'gitea';
    if (!sameSecret(header('x-gitea-signature')!.toLowerCase(), hmacHex(secret, body))) throw new BadSignature('X-Gitea-Signature does not match the body signed with the webhook secret');
  } else if (header('x-hub-signature-256') !== undefined) {
    provider = 'github';
    if (!sameSecret(header('x-hub-signature-256')!.toLowerCase(), `sha256=${hmacHex(secret, body)}`)) throw new BadSignature('X-Hub-Signature-256 does not match the body signed with the webhook secret');
  } else {
    throw new BadSignature('no X-Hub-Signature-256 (GitHub), X-Gitea-Signature (Gitea) or X-Gitlab-Token (GitLab) header');
  }

  const event = (provider === 'gitlab' ? header('x-gitlab-event') : provider === 'gitea' ? (header('x-gitea-event') ?? header('x-github-event')) : header('x-github-event')) ?? '';
  const id = (provider === 'gitlab' ? (header('x-gitlab-event-uuid') ?? header('idempotency-key')) : provider === 'gitea' ? header('x-gitea-delivery') : header('x-github-delivery')) ?? null;
  const isPush = provider === 'gitlab' ? event === 'Push Hook' : event === 'push';
  if (!isPush) return { provider, event, id, push: null };

  const payload = parsePayload(body, contentType);
  const ref = payload.ref;
  const after = payload.after;
  if (typeof ref !== 'string' || !ref) throw new BadInput('ref', 'a push event names the pushed ref (refs/heads/<branch>)');
  if (typeof after !== 'string' || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(after)) throw new BadInput('after', 'a push event names the commit the ref now points at (40 or 64 hex digits)');
  // A deleted branch points at no commit (all zeros).
  return { provider, event, id, push: ZERO_COMMIT.test(after) ? { ref, commit: '' } : { ref, commit: after } };
}

function parsePayload(body: Buffer, contentType: string | undefined): Record<string, unknown> {
  let text = body.toString('utf8');
  // GitHub's "application/x-www-form-urlencoded" content type: the JSON is the `payload` field.
  if (contentType?.startsWith('application/x-www-form-urlencoded')) text = new URLSearchParams(text).get('payload') ?? '';
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through: said below
  }
  throw new BadInput('body', 'a push event is a JSON object');
}

function hmacHex(secret: string, body: Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** Equal strings, compared in constant time (through their SHA-256, so lengths leak nothing either). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
