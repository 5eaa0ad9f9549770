/**
 * The HTTP/1.1 proxy engine both `proxy.engine` choices run: raw `net`
 * sockets parsed by llhttp (llhttp.ts says why not node:http), keep-alive
 * pools of raw backend connections. What differs is `io` (io.ts): the fast
 * engine's reaches llhttp and libuv through Node internals, the portable
 * engine's runs llhttp as WebAssembly on public APIs only.
 */
import { DEFAULT_MAX_CONNECTIONS, type PortSharing, type ProxyEngine, type TlsTerminator } from '../engine.js';
import { Exchange, type ForwardOptions } from '../forward.js';
import { upstreamHead } from '../headers.js';
import { Refusal, type Admission, type ProxyCore } from '../proxy-core.js';
import type { ProxyServerOptions } from '../proxy.server.js';
import type { InboundRequest } from './inbound-request.js';
import type { Http1Handlers, UpgradeTunnel } from './client-connection.js';
import type { Http1Io } from './io.js';
import { tlsServerOptions } from '../tls/tls-server.js';
import { Http1Listener, type ListenerOptions } from './listener.js';
import { asksForWebSocket, passUpgrade } from '../upgrade.js';
import { H2BackendPool } from '../h2/backend-pool.js';
import type { Http2Front } from '../h2/http2-front.js';
import { createUndiciPool } from '../h2/undici-pool.js';

/** How long a warm connection to a backend is kept without traffic. */
const KEEP_ALIVE_MS = 30_000;

export function createHttp1Pool(address: string, port: number, options: ProxyServerOptions, io: Http1Io): H2BackendPool {
  const poolOptions = { idleConnections: options.upstreamConnections, maxConnections: options.upstreamMaxConnections ?? 0, connectTimeout: options.timeouts.connect, keepAliveTimeout: KEEP_ALIVE_MS, io };
  return new H2BackendPool(address, port, poolOptions, () => createUndiciPool(address, port, options));
}

export class Http1Proxy implements ProxyEngine {
  private readonly listener: Http1Listener;
  private tlsListener: Http1Listener | null = null;
  private http2: Http2Front<H2BackendPool> | null = null;
  private readonly forwardOptions: ForwardOptions;
  private readonly handlers: Http1Handlers = { request: (request) => this.handle(request), upgrade: (request, tunnel) => this.handle(request, tunnel) };

  constructor(
    private readonly core: ProxyCore<H2BackendPool>,
    private readonly options: ProxyServerOptions,
    private readonly io: Http1Io,
  ) {
    this.forwardOptions = { retries: options.retries, headersTimeout: options.timeouts.headers, idleTimeout: options.timeouts.idle, onFinish: (record) => core.finished(record) };
    this.listener = new Http1Listener(this.handlers, { ...this.limits(), io });
  }

  listen(port: number, host: string, sharing?: PortSharing): Promise<number> {
    return this.listener.listen(port, host, sharing);
  }

  /** What each listener holds its clients to. */
  private limits(): Pick<ListenerOptions, 'keepAliveTimeout' | 'headersTimeout' | 'maxConnections' | 'onDrop'> {
    const options = this.options;
    return {
      keepAliveTimeout: options.timeouts.clientKeepAlive,
      headersTimeout: options.timeouts.clientHeaders,
      maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      onDrop: options.onConnectionDropped ?? null,
    };
  }

  async listenTls(port: number, host: string, sharing?: PortSharing): Promise<number> {
    const certificates = this.core.certificates;
    const http2 = this.options.tls?.http2 === true ? await this.startHttp2() : null;
    this.tlsListener = new Http1Listener(this.handlers, {
      ...this.limits(),
      io: this.io,
      tls: { options: tlsServerOptions(certificates, http2 !== null), certificates, ocspStapling: this.options.tls?.ocspStapling ?? false, http2: http2 && ((socket) => http2.serve(socket)) },
    });
    return this.tlsListener.listen(port, host, sharing);
  }

  /** HTTP/2 clients' streams go to the backends through undici pools beside the raw ones (h2/backend-pool.ts). Loaded only when on. */
  private async startHttp2(): Promise<Http2Front<H2BackendPool>> {
    const { Http2Front } = await import('../h2/http2-front.js');
    const forward = { ...this.forwardOptions, dispatcherOf: (upstream: { pool: H2BackendPool }) => upstream.pool.dispatcher() };
    return (this.http2 = new Http2Front(this.core, { forward, idleTimeout: this.options.timeouts.clientKeepAlive }));
  }

  get tlsTerminator(): TlsTerminator | null {
    return this.tlsListener?.tlsTerminator ?? null;
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

  private admitted(request: InboundRequest, admission: Admission<H2BackendPool>, tunnel: UpgradeTunnel | undefined): void {
    if (request.finished) return; // the client left while a key set was fetched
    if (admission instanceof Refusal) return this.reply(request, admission);
    const head = request.head;
    const { entry, balance, forwarded } = admission;
    // Only a WebSocket handshake keeps its Upgrade (upgrade.ts); any other goes on as a plain request.
    const forward = upstreamHead(head, forwarded, tunnel !== undefined && asksForWebSocket(head.rawHeaders));
    if (tunnel === undefined) return new Exchange(request, entry, balance, forward, forwarded.requestId, this.forwardOptions).start();
    const started = performance.now();
    passUpgrade(request, tunnel, forward, forwarded.requestId, entry, balance, {
      retries: this.options.retries,
      connectTimeout: this.options.timeouts.connect,
      idleTimeout: this.options.timeouts.idle,
      io: this.io,
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
