import { z } from 'zod';

export const BALANCERS = ['random', 'ip-hash', 'url-hash', 'least-load'] as const;
export type BalancerName = (typeof BALANCERS)[number];
export const AUTH_KINDS = ['none', 'api-key', 'jwt'] as const;
export type AuthKind = (typeof AUTH_KINDS)[number];
/** Where an app's certificates come from: ACME when no file covers a domain (`auto`), files only, or no HTTPS at all. */
export const TLS_MODES = ['auto', 'files', 'off'] as const;
export type TlsMode = (typeof TLS_MODES)[number];

/** Strict-Transport-Security, sent on TLS responses only. */
export const hstsSchema = z.strictObject({
  /** Seconds browsers keep to HTTPS (a year is 31536000). */
  maxAge: z.number({ error: 'expected seconds (a whole number)' }).int('expected seconds (a whole number)').min(0).max(63_072_000),
  includeSubDomains: z.boolean().default(false),
});
export type HstsPolicy = z.output<typeof hstsSchema>;

const pathPrefix = z.string().regex(/^\//, 'expected a path prefix starting with /');

/** What the admin API shows in place of an HS256 secret; given back, it keeps the stored secret. */
export const REDACTED_SECRET = '[redacted]';

/**
 * How an app checks JWTs. Exactly one key source: `secret` (HS256), `publicKey` (PEM, RS256/ES256) or
 * `jwksUrl`. A `secret` of `[redacted]`, or none of the three, keeps the secret stored for the app
 * (ProxyPolicyService), so what GET shows can be saved back.
 */
export const jwtPolicySchema = z
  .strictObject({
    algorithms: z.array(z.enum(['HS256', 'RS256', 'ES256'])).min(1).default(['HS256', 'RS256', 'ES256']),
    secret: z
      .string()
      .refine((secret) => secret === REDACTED_SECRET || secret.length >= 16, 'an HS256 secret needs at least 16 characters')
      .optional(),
    publicKey: z.string().includes('-----BEGIN PUBLIC KEY-----', { message: 'expected a PEM public key (-----BEGIN PUBLIC KEY-----)' }).optional(),
    jwksUrl: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
    issuer: z.string().min(1).optional(),
    audience: z.string().min(1).optional(),
    /** Scopes a token must hold for paths under a prefix; the longest matching prefix applies. */
    scopes: z.record(pathPrefix, z.array(z.string().min(1)).min(1)).default({}),
    /** Match scope prefixes with the path's case as sent; by default `/ADMIN` falls under `/admin`, as case-blind backends serve it. */
    exactCase: z.boolean().optional(),
  })
  .refine((jwt) => [jwt.secret, jwt.publicKey, jwt.jwksUrl].filter(Boolean).length <= 1, {
    message: 'give exactly one of secret, publicKey, jwksUrl',
    path: ['secret'],
  });
export type JwtPolicy = z.output<typeof jwtPolicySchema>;

/** The body of `PUT /proxy/apps/:app/policy`. */
export const policyInputSchema = z
  .strictObject({
    balancer: z.enum(BALANCERS).default('random'),
    /** url-hash only: hash the query string too (default: the path alone). */
    hashQuery: z.boolean().default(false),
    auth: z.enum(AUTH_KINDS).default('none'),
    jwt: jwtPolicySchema.optional(),
    tls: z.enum(TLS_MODES, { error: 'expected auto, files or off' }).default('auto'),
    /** Plain-HTTP requests get 301 to https (the ACME challenge path excepted). */
    redirectHttp: z.boolean().default(false),
    hsts: hstsSchema.optional(),
  })
  .refine((policy) => policy.auth !== 'jwt' || policy.jwt, { message: 'auth "jwt" needs the jwt settings', path: ['jwt'] })
  .refine((policy) => policy.tls !== 'off' || !policy.redirectHttp, { message: 'redirectHttp needs HTTPS: tls may not be "off"', path: ['redirectHttp'] })
  .refine((policy) => policy.tls !== 'off' || !policy.hsts, { message: 'hsts needs HTTPS: tls may not be "off"', path: ['hsts'] });
export type PolicyInput = z.output<typeof policyInputSchema>;

/** An API key as the proxy workers see it: only the SHA-256 of the key. */
export interface KeyDigest {
  id: string;
  /** hex SHA-256 of the key */
  digest: string;
}

/** Everything the hot path needs to know about one app beyond its backends. */
export interface AppPolicy extends PolicyInput {
  keys: KeyDigest[];
}

export const DEFAULT_POLICY: AppPolicy = { balancer: 'random', hashQuery: false, auth: 'none', tls: 'auto', redirectHttp: false, keys: [] };

/** Policies by app name, as sent to every worker; apps not listed get DEFAULT_POLICY. */
export type PolicySet = Record<string, AppPolicy>;
