import { z } from 'zod';
import { secret } from '../config/secret.js';

export const storageConfig = z
  .strictObject({
    /** `local` keeps objects in a folder under the data dir (one host); `oss` uses an Alibaba Cloud OSS bucket. */
    driver: z.enum(['local', 'oss']).default('local'),
    oss: z
      .strictObject({
        region: z.string().min(1).optional(),
        endpoint: z.string().min(1).optional(),
        bucket: z.string().min(1).optional(),
        accessKeyId: secret().optional(),
        accessKeySecret: secret().optional(),
      })
      .default({}),
  })
  .default({ driver: 'local', oss: {} });
