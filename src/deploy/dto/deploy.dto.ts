import { z } from 'zod';
import { hasUrlCredentials } from '../../common/url-credentials.js';
import { domainSchema } from '../../registry/domains.js';
import { repositoryUrlProblem } from '../build/git-credentials.js';

const dnsLabel = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const appName = z
  .string()
  .regex(dnsLabel, 'expected a DNS label: 1-63 of a-z, 0-9 and inner -')
  .refine((name) => name !== 'dozen', 'the name dozen is kept for the dozen hosts themselves');
export const hostName = z.string().regex(dnsLabel, 'expected a lower-case host name');
export const releaseId = z.string().regex(/^r[0-9a-f]{8}$/, 'expected a release id like r1a2b3c4d');
export const instanceId = z.string().regex(/^i[0-9a-f]{8}$/, 'expected an instance id like i1a2b3c4d');

const repository = z
  .string()
  .max(1024)
  .refine((value) => /^(file|https?|ssh):\/\/\S+$/.test(value), 'expected a file://, https:// or ssh:// git URL')
  // The app's git credentials go to the host: one that git or ssh could read otherwise than dozen's checks is refused.
  .superRefine((value, context) => {
    const problem = repositoryUrlProblem(value);
    if (problem) context.addIssue({ code: 'custom', message: problem });
  })
  // Every viewer reads the repository URL (API, audit trail): credentials belong in the app's secrets, which nobody reads back.
  .refine((value) => !hasUrlCredentials(value), "must not hold credentials (user:password@): set the app's secrets GIT_USERNAME and GIT_TOKEN instead");
const gitRef = z
  .string()
  .min(1)
  .max(255)
  .refine((ref) => /^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(ref) && !ref.includes('..'), 'expected a branch, tag or commit SHA');
/** Env names the app may set: not dozen's own (PORT, DOZEN_*), which the agent sets last. */
const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'expected an env name (A-Z, a-z, 0-9, _; not starting with a digit)')
  .refine((name) => name !== 'PORT' && !name.startsWith('DOZEN_'), 'PORT and DOZEN_* are set by dozen');
const envMap = z.record(envName, z.string().max(32 * 1024)).refine((map) => Object.keys(map).length <= 200, 'at most 200 variables');

const appFields = {
  repository: repository.nullable(),
  defaultRef: gitRef,
  runtime: z.enum(['nodejs', 'php-laravel', 'image']),
  image: z.string().min(1).max(512).nullable(),
  port: z.number().int().min(1).max(65535).nullable(),
  healthPath: z.string().regex(/^\/[\x21-\x7e]*$/, 'expected a path starting with /'),
  env: envMap,
  domains: z.array(domainSchema).max(100),
  memoryMb: z.number().int().min(16).max(1024 * 1024).nullable(),
  cpus: z.number().min(0.01).max(1024).nullable(),
};

function runtimeNeeds(app: { runtime?: string; repository?: string | null; image?: string | null }, context: z.RefinementCtx): void {
  if (app.runtime === 'image' && !app.image) context.addIssue({ code: 'custom', path: ['image'], message: 'is required for runtime image' });
  if (app.runtime !== 'image' && !app.repository) context.addIssue({ code: 'custom', path: ['repository'], message: 'is required for a runtime built from git' });
}

export const createAppSchema = z
  .strictObject({
    name: appName,
    repository: appFields.repository.default(null),
    defaultRef: appFields.defaultRef.default('main'),
    runtime: appFields.runtime.default('nodejs'),
    image: appFields.image.default(null),
    port: appFields.port.default(null),
    healthPath: appFields.healthPath.default('/'),
    env: appFields.env.default({}),
    secrets: envMap.default({}),
    domains: appFields.domains.default([]),
    memoryMb: appFields.memoryMb.default(null),
    cpus: appFields.cpus.default(null),
  })
  .superRefine(runtimeNeeds);
export type CreateAppInput = z.output<typeof createAppSchema>;

export const updateAppSchema = z.strictObject({
  repository: appFields.repository.optional(),
  defaultRef: appFields.defaultRef.optional(),
  runtime: appFields.runtime.optional(),
  image: appFields.image.optional(),
  port: appFields.port.optional(),
  healthPath: appFields.healthPath.optional(),
  memoryMb: appFields.memoryMb.optional(),
  cpus: appFields.cpus.optional(),
});
export type UpdateAppInput = z.output<typeof updateAppSchema>;

export const domainSchemaBody = z.strictObject({ domain: domainSchema });
export const envBody = z.strictObject({ env: envMap.refine((map) => Object.keys(map).length > 0, 'give at least one variable') });
export const secretsBody = z.strictObject({ secrets: envMap.refine((map) => Object.keys(map).length > 0, 'give at least one secret') });
export const envNameParam = envName;
export const deployBody = z.strictObject({ ref: gitRef.optional() }).default({});
export const rollbackBody = z.strictObject({ release: releaseId.optional() }).default({});
export const createInstanceSchema = z.strictObject({ app: appName, host: hostName });
export const scaleBody = z.strictObject({ host: hostName, count: z.number().int().min(0).max(100) });
export const instanceQuery = z.strictObject({ app: appName.optional(), host: hostName.optional() });
export const tailQuery = z.strictObject({
  tail: z.coerce.number().int().min(0).max(10_000).default(200),
  follow: z.enum(['0', '1']).default('0'),
});
export const instanceLogsQuery = tailQuery
  .extend({
    /** How a follow is written: the lines as they are, or a JSON object per line ({stream, at, text}). */
    format: z.enum(['text', 'ndjson']).default('text'),
  })
  .refine((query) => query.format === 'text' || query.follow === '1', { path: ['format'], message: 'ndjson is for a follow: add follow=1' });
export type InstanceLogsQuery = z.infer<typeof instanceLogsQuery>;
export const auditQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(100) });
