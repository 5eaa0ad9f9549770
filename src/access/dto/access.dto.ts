import { z } from 'zod';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../passwords.js';
import { ROLES } from '../../common/principal.js';

export const userName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'expected 1-64 characters: lower-case letters, digits, . _ - (starting with a letter or digit)');
export const role = z.enum(ROLES, { error: `expected one of ${ROLES.join(', ')}` });
export const password = z
  .string({ error: 'expected a string' })
  .min(PASSWORD_MIN_LENGTH, `must be at least ${PASSWORD_MIN_LENGTH} characters`)
  .max(PASSWORD_MAX_LENGTH, `must be at most ${PASSWORD_MAX_LENGTH} characters`);

export const loginSchema = z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(PASSWORD_MAX_LENGTH) });
export const createUserSchema = z.strictObject({ name: userName, role, password });
export const updateUserSchema = z.strictObject({ role: role.optional(), disabled: z.boolean().optional() });
export const passwordSchema = z.strictObject({ password });
export const createPersonalTokenSchema = z.strictObject({
  name: z.string().min(1).max(128),
  expiresAt: z.iso
    .datetime({ offset: true, error: 'expected an ISO 8601 date-time' })
    .refine((value) => Date.parse(value) > Date.now(), 'must be in the future')
    .nullable()
    .default(null),
});
export const tokenIdParam = z.uuid({ error: 'expected a token id (UUID)' });

export type CreateUserInput = z.output<typeof createUserSchema>;
export type UpdateUserInput = z.output<typeof updateUserSchema>;
export type CreatePersonalTokenInput = z.output<typeof createPersonalTokenSchema>;
