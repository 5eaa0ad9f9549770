import { z } from 'zod';
import { listen } from '../config/listen.js';

export const proxyConfig = z
  .strictObject({
    /** The public listener; `:80` in production. */
    listen: listen('0.0.0.0', 8080),
  })
  .default({ listen: { host: '0.0.0.0', port: 8080 } });
