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
import type { Http1Handlers, UpgradeTunnel } from './client-connection.js';
import { tlsServerOptions } from '../tls/tls-server.js';
import { Http1Listener } from './listener.js';
import { passUpgrade } from '../upgrade.js';
import { FastBackendPool } from '../h2/fast-backend-pool.js';
import { Http2Front } from '../h2/http2-front.js';
import { createUndiciPool } from '../portable/undici-pool.js';

export { selfTest } from './self-test.js';

/** How long a warm connection to a backend is kept without traffic. */
const KEEP_ALIVE_MS = 30_000;

export function createPool(address: string, port: number, options: ProxyServerOptions): FastBackendPool {
  const poolOptions = { connections: options.upstreamConnections, connectTimeout: options.timeouts.connect, keepAliveTimeout: KEEP_ALIVE_MS };
  return new FastBackendPool(address, port, poolOptions, () => createUndiciPool(address, port, options));
}

export function createEngine(core: ProxyCore<FastBackendPool>, options: ProxyServerOptions): ProxyEngine {
  return new FastEngine(core, options);
}

class FastEngine implements ProxyEngine {
  private readonly listener: Http1Listener;
  private tlsListener: Http1Listener | null = null;
  private http2: Http2Front<FastBackendPool> | null = null;
  private readonly forwardOptions: ForwardOptions;
  private readonly handlers: Http1Handlers = { request: (request) => this.handle(request), upgrade: (request, tunnel) => this.handle(request, tunnel) };

  constructor(
    private readonly core: ProxyCore<FastBackendPool>,
    private readonly options: ProxyServerOptions,
  ) {
    this.forwardOptions = { retries: options.retries, headersTimeout: options.timeouts.headers, idleTimeout: options.timeouts.idle, onFinish: (record) => core.finished(record) };
    this.listener = new Http1Listener(this.handlers, { keepAliveTimeout: options.timeouts.clientKeepAlive, headersTimeout: options.timeouts.clientHeaders });
  }

  listen(port: number, host: string, exclusive = false): Promise<number> {
    return this.listener.listen(port, host, exclusive);
  }

  listenTls(port: number, host: string): Promise<number> {
    const certificates = this.core.certificates;
    const http2 = this.options.tls?.http2 === true ? this.startHttp2() : null;
    this.tlsListener = new Http1Listener(this.handlers, {
      keepAliveTimeout: this.options.timeouts.clientKeepAlive,
      headersTimeout: this.options.timeouts.clientHeaders,
      tls: { options: tlsServerOptions(certificates, http2 !== null), certificates, ocspStapling: this.options.tls?.ocspStapling ?? false, http2: http2 && ((socket) => http2.serve(socket)) },
    });
    return this.tlsListener.listen(port, host);
  }

  /** HTTP/2 clients' streams go to the backends through undici pools beside the fast ones (h2/fast-backend-pool.ts). */
  private startHttp2(): Http2Front<FastBackendPool> {
    const forward = { ...this.forwardOptions, dispatcherOf: (upstream: { pool: FastBackendPool }) => upstream.pool.dispatcher() };
    return (this.http2 = new Http2Front(this.core, { forward, idleTimeout: this.options.timeouts.clientKeepAlive }));
  }

  async close(): Promise<void> {
    await Promise.all([this.listener.close(), this.tlsListener?.close(), this.http2?.close()]);
  }

  /** A request (or an Upgrade handshake, with its `tunnel`): admitted by the core, then forwarded. */
  private handle(request: InboundRequest, tunnel?: UpgradeTunnel): void {
    const admission = this.core.admit(request.head);
    if (admission instanceof Promise) admission.then((result) => this.admitted(request, result, tunnel));
    else this.admitted(request, admission, tunnel);
  }

  private admitted(request: InboundRequest, admission: Admission<FastBackendPool>, tunnel: UpgradeTunnel | undefined): void {
    if (request.finished) return; // the client left while a key set was fetched
    if (admission instanceof Refusal) return this.reply(request, admission);
    const head = request.head;
    const { entry, balance, forwarded } = admission;
    const forward = upstreamHead(head, forwarded, tunnel !== undefined);
    if (tunnel === undefined) return new Exchange(request, entry, balance, forward, forwarded.requestId, this.forwardOptions).start();
    const started = performance.now();
    passUpgrade(request, tunnel, forward, forwarded.requestId, entry, balance, {
      retries: this.options.retries,
      connectTimeout: this.options.timeouts.connect,
      idleTimeout: this.options.timeouts.idle,
      onDone: (backend, status, upstreamError) =>
        this.core.finished({ app: entry.app, host: head.headers.host ?? '', backend, method: head.method, path: head.url, status, bytes: 0, requestBytes: 0, durationMs: performance.now() - started, retries: 0, upstreamError, requestId: forwarded.requestId }),
    });
  }

  private reply(request: InboundRequest, refusal: Refusal): void {
    const started = performance.now();
    let extraLines = '';
    if (refusal.headers) for (const [name, value] of Object.entries(refusal.headers)) extraLines += `${name}: ${value}\r\n`;
    request.reply(refusal.status, refusal.body, extraLines, refusal.contentType);
    this.core.refused(request.head, refusal, started);
  }
}
