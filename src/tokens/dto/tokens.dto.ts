import { z } from 'zod';
import { objectKeyProblem } from '../../common/object-keys.js';
import { SCOPE_NAMES } from '../scopes.js';

/**
 * A key prefix, by the rules of a listing's prefix: one the store would refuse to list (`../`, `a//`)
 * is refused here too, not accepted for a token that could then never list.
 */
const keyPrefix = z
  .string()
  .min(1, 'must not be empty (leave it out for no prefix)')
  .superRefine((prefix, context) => {
    const problem = objectKeyProblem(prefix, true);
    if (problem) context.addIssue({ code: 'custom', message: problem });
  });

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
