import { z } from 'zod';
import { SCOPE_NAMES } from '../scopes.js';

/** A key prefix: the same spelling rules as object keys, so a prefix that no key could start with is refused up front. */
const keyPrefix = z
  .string()
  .min(1, 'must not be empty (leave it out for no prefix)')
  .max(1023)
  .refine((prefix) => !prefix.startsWith('/'), 'must not start with /')
  // eslint-disable-next-line no-control-regex
  .refine((prefix) => !/[\u0000-\u001f\u007f\\]/.test(prefix), 'must not contain control characters or a backslash');

export const createTokenSchema = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(128),
  scopes: z.array(z.enum(SCOPE_NAMES as [string, ...string[]])).min(1, `needs at least one of ${SCOPE_NAMES.join(', ')}`),
  prefix: keyPrefix.nullable().default(null),
  expiresAt: z.iso
    .datetime({ offset: true, message: 'expected an ISO 8601 date-time, e.g. 2026-12-31T00:00:00Z' })
    .refine((value) => Date.parse(value) > Date.now(), 'must be in the future')
    .nullable()
    .default(null),
});
export type CreateTokenInput = z.output<typeof createTokenSchema>;

export const tokenIdParam = z.uuid('expected a token id');
