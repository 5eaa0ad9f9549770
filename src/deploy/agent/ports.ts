import { createServer } from 'node:net';
import type { DozenConfig } from '../../config/config.schema.js';

/**
 * A port of `range` (FIRST-LAST) that no managed container was given and
 * nothing listens on right now (containers use the host's network; see
 * `isFree`). Starts at a random point so two agents or two quick starts
 * rarely try the same one.
 */
export async function pickPort(range: string, taken: Set<number>): Promise<number> {
  const [first, last] = range.split('-').map(Number);
  const size = last - first + 1;
  const start = Math.floor(Math.random() * size);
  for (let step = 0; step < Math.min(size, 500); step++) {
    const port = first + ((start + step) % size);
    if (!taken.has(port) && (await isFree(port))) return port;
  }
  throw new Error(`no free port in deploy.portRange ${range}`);
}

/**
 * Whether nothing listens on `port` right now, on any address: binding every IPv4 address fails when
 * something listens on one of them (or on a dual-stack `[::]`), and binding every IPv6 address alone
 * (ipv6Only) when something listens on `[::1]`, another IPv6 address or a v6-only `[::]`; neither bind
 * sees the other family's listeners. A host without IPv6 cannot bind `::`, and nothing listens there.
 */
export async function isFree(port: number): Promise<boolean> {
  return (await binds(port, '0.0.0.0')) && (await binds(port, '::'));
}

const NO_IPV6 = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL']);

function binds(port: number, host: '0.0.0.0' | '::'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(host === '::' && NO_IPV6.has(error.code ?? '')));
    server.listen({ port, host, ipv6Only: host === '::', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Why an app may not have `port` as its fixed port on a host with `config`, or null when it may: it
 * must lie in deploy.fixedPortRange (default deploy.portRange) and be none of dozen's own listeners,
 * since the proxy would route the app's domains to whatever answers there (dozen's admin API, say).
 */
export function fixedPortProblem(port: number, config: DozenConfig): string | null {
  const own: [string, number | undefined][] = [
    ['admin.listen.port', config.admin.listen.port], ['proxy.listen.port', config.proxy.listen.port], ['proxy.tls.listen.port', config.proxy.tls?.listen.port],
  ];
  const taken = own.find(([, value]) => value === port);
  if (taken) return `${port} is dozen's own port (${taken[0]})`;
  const [range, key] = config.deploy.fixedPortRange ? [config.deploy.fixedPortRange, 'deploy.fixedPortRange'] : [config.deploy.portRange, 'deploy.portRange'];
  const [first, last] = range.split('-').map(Number);
  if (port < first || port > last) return `${port} is outside ${key} ${range}`;
  return null;
}
