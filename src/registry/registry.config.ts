import { z } from 'zod';
import { httpUrl } from '../config/listen.js';
import { secret } from '../config/secret.js';

export const registryConfig = z
  .strictObject({
    /** `embedded` keeps the catalog in this process (one host); `consul` talks to the local Consul agent. */
    catalog: z.enum(['embedded', 'consul']).default('embedded'),
    consul: z
      .strictObject({
        url: httpUrl().default('http://127.0.0.1:8500'),
        token: secret().optional(),
      })
      .default({ url: 'http://127.0.0.1:8500' }),
  })
  .default({ catalog: 'embedded', consul: { url: 'http://127.0.0.1:8500' } });
