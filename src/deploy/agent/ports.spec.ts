import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type ListenOptions, type Server } from 'node:net';
import { after, describe, it } from 'node:test';
import { isFree } from './ports.js';

const open = new Set<Server>();
after(() => Promise.all([...open].map(close)));

async function listening(options: ListenOptions): Promise<Server | null> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(null));
    server.listen({ port: 0, ...options }, () => resolve(open.add(server) && server));
  });
}

const portOf = (server: Server) => (server.address() as AddressInfo).port;
function close(server: Server): Promise<void> {
  open.delete(server);
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('a port nothing listens on', () => {
  it('is not free while something listens on it on an IPv4 address, on [::1], or on a v6-only [::]', async (context) => {
    const ipv4 = (await listening({ host: '127.0.0.1' }))!;
    assert.equal(await isFree(portOf(ipv4)), false, '127.0.0.1');
    await close(ipv4);

    const loopback6 = await listening({ host: '::1' });
    if (!loopback6) return context.skip('no IPv6 on this host');
    assert.equal(await isFree(portOf(loopback6)), false, '[::1]');
    await close(loopback6);
    const only6 = (await listening({ host: '::', ipv6Only: true }))!;
    assert.equal(await isFree(portOf(only6)), false, 'v6-only [::]');
    await close(only6);
    const dual = (await listening({ host: '::' }))!;
    assert.equal(await isFree(portOf(dual)), false, 'dual-stack [::]');
    await close(dual);
  });

  it('is free once nothing listens there', async () => {
    const server = (await listening({ host: '127.0.0.1' }))!;
    const port = portOf(server);
    await close(server);
    assert.equal(await isFree(port), true);
  });
});
