/**
 * The fast engine: the HTTP/1.1 engine (http1-proxy.ts) with native I/O —
 * Node's own llhttp reading client sockets from libuv, direct writes
 * (native-io.ts). It leans on Node internals; self-test.ts checks they are
 * there and behave before a worker serves with it. Imported only by
 * engine-choice.ts.
 */
import type { ProxyEngine } from '../engine.js';
import type { ProxyCore } from '../proxy-core.js';
import type { ProxyServerOptions } from '../proxy.server.js';
import { createHttp1Pool, Http1Proxy } from './http1-proxy.js';
import { NATIVE_IO } from './native-io.js';
import type { H2BackendPool } from '../h2/backend-pool.js';

export { selfTest } from './self-test.js';

export function createPool(address: string, port: number, options: ProxyServerOptions): H2BackendPool {
  return createHttp1Pool(address, port, options, NATIVE_IO);
}

export function createEngine(core: ProxyCore<H2BackendPool>, options: ProxyServerOptions): ProxyEngine {
  return new Http1Proxy(core, options, NATIVE_IO);
}
