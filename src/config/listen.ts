import { z } from 'zod';

export const port = () =>
  z.number({ error: 'expected a whole number 1-65535' }).int('expected a whole number 1-65535').min(1, 'expected a whole number 1-65535').max(65535, 'expected a whole number 1-65535');

/**
 * The Fetch standard's bad ports (https://fetch.spec.whatwg.org/#bad-port): browsers and Node's fetch()
 * refuse to connect to them ("bad port"), so a server that browsers, the dozen CLI or other hosts reach
 * must not listen on one.
 */
export const FETCH_BLOCKED_PORTS: ReadonlySet<number> = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123,
  135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995,
  1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/** Where a server listens: an address (IPv4/IPv6 literal or a name) and a port. */
export const listen = (host: string, portNumber: number, portSchema = port()) =>
  z
    .strictObject({
      host: z.string().min(1).default(host),
      port: portSchema.default(portNumber),
    })
    .prefault({});

/** Addresses that mean every address of the host: a listener there takes its port on all of them. */
const EVERY_ADDRESS: ReadonlySet<string> = new Set(['0.0.0.0', '::', '[::]']);

/** Whether listeners on these two hosts could want one socket, so one port would fail with EADDRINUSE: the same host, or either on every address. */
export function hostsMayCollide(first: string, second: string): boolean {
  return first.toLowerCase() === second.toLowerCase() || EVERY_ADDRESS.has(first) || EVERY_ADDRESS.has(second);
}

/** `listen`, for a server that fetch() clients reach: the console in a browser, the CLI, other hosts. */
export const webListen = (host: string, portNumber: number) =>
  listen(host, portNumber, port().refine((value) => !FETCH_BLOCKED_PORTS.has(value), "a port that browsers and fetch() refuse to connect to (the Fetch standard's bad ports); pick another"));

export const httpUrl = () =>
  z.string().refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'expected an http:// or https:// URL');
