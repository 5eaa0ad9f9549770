import { z } from 'zod';

export const port = () =>
  z.number({ error: 'expected a whole number 1-65535' }).int('expected a whole number 1-65535').min(1, 'expected a whole number 1-65535').max(65535, 'expected a whole number 1-65535');

/** Where a server listens: an address (IPv4/IPv6 literal or a name) and a port. */
export const listen = (host: string, portNumber: number) =>
  z
    .strictObject({
      host: z.string().min(1).default(host),
      port: port().default(portNumber),
    })
    .default({ host, port: portNumber });

export const httpUrl = () =>
  z.string().refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'expected an http:// or https:// URL');
