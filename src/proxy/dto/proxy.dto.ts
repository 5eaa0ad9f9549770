import { z } from 'zod';

export const appParam = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'expected an app name (a-z, 0-9, -)');
export const keyIdParam = z.uuid('expected a key id');
export const createKeySchema = z.strictObject({ name: z.string().min(1).max(128).default('key') }).default({ name: 'key' });
export type CreateKeyInput = z.output<typeof createKeySchema>;
