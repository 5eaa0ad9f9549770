/**
 * The fast engine: raw sockets parsed by llhttp (llhttp.ts says why not
 * node:http), keep-alive pools of raw backend connections, direct writes.
 * It leans on Node internals; self-test.ts checks they are there and behave
 * before a worker serves with it. Imported only by engine-choice.ts.
 */
import type { ProxyEngine } from '../engine.js';
import { Exchange, type ForwardOptions } from '../forward.js';
import { upstreamHead } from '../headers.js';
import { Refusal, type Admission, type ProxyCore } from '../proxy-core.js';
import type { ProxyServerOptions } from '../proxy.server.js';
import type { InboundRequest } from './inbound-request.js';
import { Http1Listener } from './listener.js';
import { UpstreamPool } from './upstream-pool.js';

export { selfTest } from './self-test.js';

/** How long a warm connection to a backend is kept without traffic. */
const KEEP_ALIVE_MS = 30_000;

export function createPool(address: string, port: number, options: ProxyServerOptions): UpstreamPool {
  return new UpstreamPool(address, port, { connections: options.upstreamConnections, connectTimeout: options.timeouts.connect, keepAliveTimeout: KEEP_ALIVE_MS });
}

export function createEngine(core: ProxyCore<UpstreamPool>, options: ProxyServerOptions): ProxyEngine {
  return new FastEngine(core, options);
}

class FastEngine implements ProxyEngine {
  private readonly listener: Http1Listener;
  private readonly forwardOptions: ForwardOptions;

  constructor(
    private readonly core: ProxyCore<UpstreamPool>,
    options: ProxyServerOptions,
  ) {
    this.forwardOptions = { retries: options.retries, headersTimeout: options.timeouts.headers, idleTimeout: options.timeouts.idle, onFinish: (record) => core.finished(record) };
    this.listener = new Http1Listener(
      { request: (request) => this.handle(request), upgrade: (head, socket, rest) => core.upgrade(head, socket, rest) },
      { keepAliveTimeout: options.timeouts.clientKeepAlive, headersTimeout: options.timeouts.clientHeaders },
    );
  }

  listen(port: number, host: string): Promise<number> {
    return this.listener.listen(port, host);
  }

  close(): Promise<void> {
    return this.listener.close();
  }

  private handle(request: InboundRequest): void {
    const admission = this.core.admit(request.head);
    if (admission instanceof Promise) admission.then((result) => this.admitted(request, result));
    else this.admitted(request, admission);
  }

  private admitted(request: InboundRequest, admission: Admission<UpstreamPool>): void {
    if (request.finished) return; // the client left while a key set was fetched
    if (admission instanceof Refusal) return this.reply(request, admission);
    const forward = upstreamHead(request.head, admission.forwarded);
    new Exchange(request, admission.entry, admission.balance, forward, admission.forwarded.requestId, this.forwardOptions).start();
  }

  private reply(request: InboundRequest, refusal: Refusal): void {
    const started = performance.now();
    let extraLines = '';
    if (refusal.headers) for (const [name, value] of Object.entries(refusal.headers)) extraLines += `${name}: ${value}\r\n`;
    request.reply(refusal.status, refusal.body, extraLines);
    this.core.refused(request.head, refusal, started);
  }
}
