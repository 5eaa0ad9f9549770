import { z } from 'zod';

export const broadcastConfig = z.strictObject({}).default({});
