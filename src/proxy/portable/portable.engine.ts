/**
 * The portable engine: the same HTTP/1.1 engine as the fast one
 * (http1/http1-proxy.ts: routing, header rules, refusals, retries, timeouts,
 * WebSocket pass-through, drain, access-log records, the TLS listener), with
 * I/O on public APIs only (portable-io.ts: llhttp as WebAssembly, 'data'
 * events, socket.write), so it runs on any Node line that runs dozen and
 * never loads `_http_common` or `process.binding`. Imported only by
 * engine-choice.ts.
 */
import type { ProxyEngine } from '../engine.js';
import { createHttp1Pool, Http1Proxy } from '../http1/http1-proxy.js';
import type { H2BackendPool } from '../h2/backend-pool.js';
import type { ProxyCore } from '../proxy-core.js';
import type { ProxyServerOptions } from '../proxy.server.js';
import { PORTABLE_IO } from './portable-io.js';

export function createPool(address: string, port: number, options: ProxyServerOptions): H2BackendPool {
  return createHttp1Pool(address, port, options, PORTABLE_IO);
}

export function createEngine(core: ProxyCore<H2BackendPool>, options: ProxyServerOptions): ProxyEngine {
  return new Http1Proxy(core, options, PORTABLE_IO);
}
