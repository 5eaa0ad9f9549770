import { isIP } from 'node:net';
import { z } from 'zod';
import { CONSUL_META, domainValues, isOwnMetaKey, OWN_META_KEYS } from '../catalog.js';
import { domainSchema, isDomain } from '../domains.js';


export const appName = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'expected a lower-case app name of 1-63 characters (a-z, 0-9, inner -)');
export const instanceId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'expected 1-128 characters (A-Z, a-z, 0-9, _ . -), starting with a letter or digit');

export const loadSchema = z.strictObject({
  cpu: z.number().min(0).max(100_000),
  memory: z.number().int().min(0),
  processes: z.number().int().min(0),
  inflight: z.number().int().min(0).default(0),
});

export const registerSchema = z.strictObject({
  /** Given by the deploy agent (its instance id); generated when absent. */
  id: instanceId.optional(),
  app: appName.refine((name) => name !== 'dozen', 'the app name dozen is kept for the dozen hosts themselves'),
  address: z.string().refine((value) => isIP(value) !== 0 || isDomain(value), 'expected an IP address or a host name'),
  port: z.number().int().min(1).max(65535),
  domains: z.array(domainSchema).max(100).default([]),
  meta: z
    .record(z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'meta keys are 1-128 characters of A-Z, a-z, 0-9, _ and -'), z.string().max(CONSUL_META.maxValueLength))
    .refine((meta) => !Object.keys(meta).some(isOwnMetaKey), `meta keys ${OWN_META_KEYS.join(', ')} and domains-N are set by dozen`)
    .refine((meta) => !Object.keys(meta).some((key) => key.startsWith(CONSUL_META.reservedPrefix)), `meta keys starting ${CONSUL_META.reservedPrefix} are Consul's`)
    .default({}),
  /** Seconds within which a heartbeat must come. */
  ttl: z.number().min(1).max(3600).default(10),
  /** Seconds an instance may stay critical before it is removed. */
  deregisterAfter: z.number().min(1).max(86_400).default(60),
  release: z.string().min(1).max(128).optional(),
  /** The dozen host the instance runs on; this host by default. */
  host: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'expected a lower-case host name').optional(),
}).superRefine((input, context) => {
  // Consul's 64 pairs hold dozen's own (one `domains` value per 512 characters of domains) and the caller's.
  const own = OWN_META_KEYS.length - 1 + domainValues(input.domains).length;
  const allowed = CONSUL_META.maxPairs - own;
  if (Object.keys(input.meta).length > allowed) {
    context.addIssue({ code: 'custom', path: ['meta'], message: `at most ${allowed} meta pairs with these domains (Consul allows ${CONSUL_META.maxPairs}, dozen's own take ${own})` });
  }
});
export type RegisterInput = z.output<typeof registerSchema>;

export const heartbeatSchema = z.strictObject({ load: loadSchema.optional() }).default({});
export type HeartbeatInput = z.output<typeof heartbeatSchema>;

export const idParam = instanceId;
export const appParam = appName;
