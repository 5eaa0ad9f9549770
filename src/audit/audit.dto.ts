import { z } from 'zod';

const instant = z.iso.datetime({ offset: true, error: 'expected an ISO 8601 date-time' }).transform((value) => Date.parse(value));

/** The filters of GET /audit and GraphQL auditEvents. */
export const auditFilterSchema = z.strictObject({
  module: z.string().min(1).max(32).optional(),
  actor: z.string().min(1).max(128).optional(),
  /** An exact action, or a prefix ending in `*` (`app.*`, `POST /storage*`). */
  action: z.string().min(1).max(128).optional(),
  outcome: z.enum(['ok', 'refused', 'failed']).optional(),
  since: instant.optional(),
  until: instant.optional(),
  limit: z.coerce.number({ error: 'expected a whole number 1-1000' }).int('expected a whole number 1-1000').min(1, 'expected a whole number 1-1000').max(1000, 'expected a whole number 1-1000').default(100),
  offset: z.coerce.number({ error: 'expected a whole number' }).int('expected a whole number').min(0, 'must not be negative').default(0),
});
export type AuditFilter = z.output<typeof auditFilterSchema>;
