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
        /** ACL token sent as X-Consul-Token. */
        token: secret().optional(),
        /** Let any Consul server answer watches (?stale): less load on the leader, may lag it slightly. */
        stale: z.boolean().default(false),
        /** How long one blocking query may hang before it is sent again (Consul caps it at 600). */
        waitSeconds: z.number().int().min(1).max(600).default(60),
      })
      .prefault({}),
    /** With several hosts (consul): each host renews its own registration every third of this; one silent this long is `host.silent`. */
    hostTtlSeconds: z.number().min(1).max(300).default(10),
  })
  .prefault({});
