/**
 * The portable engine: `node:http` for clients, undici pools for backends,
 * public APIs only, so it runs on any Node line that runs dozen. It serves
 * what the shared core (proxy-core.ts) admits, with the same header rules
 * (headers.ts), refusals, retries, timeouts, WebSocket pass-through and
 * access-log records as the fast engine; it is slower (engine.ts, README
 * figures). Framing towards the backend is undici's, from node:http's parsed
 * request (body length or chunks), never from the client's header lines.
 */
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { listenOn, type ProxyEngine } from '../engine.js';
import { upstreamHead } from '../headers.js';
import { refuse } from '../http1/refuse.js';
import { BadHead, requestHead, type RequestHead } from '../http1/request-head.js';
import { Refusal, type Admission, type ProxyCore } from '../proxy-core.js';
import type { ProxyServerOptions } from '../proxy.server.js';
import { ClientSockets } from './client-sockets.js';
import { runTlsServer, tlsServerOptions } from '../tls/tls-server.js';
import { passUpgradePortable } from './portable-upgrade.js';
import { PortableExchange, type PortableForwardOptions, type PortablePool } from './portable-exchange.js';
import { Http2Front } from '../h2/http2-front.js';
import { createUndiciPool } from './undici-pool.js';

/** How often node:http looks for heads that take too long (its default, 30 s, would make the headers timeout coarse). */
const CHECK_INTERVAL_MS = 250;
/** How long close() lets requests in progress finish before cutting them. */
const CLOSE_GRACE_MS = 5_000;

export { createUndiciPool as createPool };

export function createEngine(core: ProxyCore<PortablePool>, options: ProxyServerOptions): ProxyEngine {
  return new PortableEngine(core, options);
}

class PortableEngine implements ProxyEngine {
  private readonly server: Server;
  private tlsServer: HttpsServer | null = null;
  private http2: Http2Front<PortablePool> | null = null;
  private readonly forwardOptions: PortableForwardOptions;
  private readonly sockets = new ClientSockets();
  private closing = false;

  constructor(
    private readonly core: ProxyCore<PortablePool>,
    private readonly options: ProxyServerOptions,
  ) {
    this.forwardOptions = {
      retries: options.retries,
      headersTimeout: options.timeouts.headers,
      idleTimeout: options.timeouts.idle,
      onFinish: (record) => core.finished(record),
      dispatcherOf: (upstream) => upstream.pool,
    };
    this.server = this.serve(createServer(this.httpOptions()));
  }

  /** node:http's settings for both listeners. */
  private httpOptions(): ServerOptions {
    const timeouts = this.options.timeouts;
    return {
      // node:http keeps connections half-open itself: a client that shuts down its sending side still gets its answers.
      noDelay: true,
      headersTimeout: timeouts.clientHeaders,
      // A body may take as long as it takes; the backend's idle timeout covers a stalled one.
      requestTimeout: 0,
      keepAliveTimeout: timeouts.clientKeepAlive,
      connectionsCheckingInterval: CHECK_INTERVAL_MS,
      // The proxy answers Host problems itself (404 JSON), as the fast engine does.
      requireHostHeader: false,
    };
  }

  /** Hands `server`'s requests, upgrades and errors to this engine (the plain and the TLS listener alike). */
  private serve<S extends Server>(server: S): S {
    // A client that half-closes after its requests still gets every answer (node:http's own switch; false by default).
    (server as unknown as { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    server.on('request', (request: IncomingMessage, response: ServerResponse) => this.handle(request, response));
    // Expect: 100-continue is answered only once the request is admitted (auth passed), so a refused client sends no body.
    server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => this.handle(request, response));
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, rest: Buffer) => this.upgrade(request, socket, rest));
    server.on('connect', (_request: IncomingMessage, socket: Duplex) => refuse(socket, 405, 'method_not_allowed', 'this proxy does not open CONNECT tunnels'));
    server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => this.sockets.clientError(error, socket));
    return server;
  }

  listen(port: number, host: string, exclusive = false): Promise<number> {
    return listenOn(this.server, port, host, exclusive);
  }

  listenTls(port: number, host: string): Promise<number> {
    const certificates = this.core.certificates;
    const http2 = this.options.tls?.http2 === true;
    const server = this.serve(createHttpsServer({ ...this.httpOptions(), ...tlsServerOptions(certificates, http2) }));
    runTlsServer(server, certificates, this.options.tls?.ocspStapling ?? false);
    if (http2) {
      this.http2 = new Http2Front(this.core, { forward: this.forwardOptions, idleTimeout: this.options.timeouts.clientKeepAlive });
      this.http2.takeOver(server);
    }
    this.tlsServer = server;
    return listenOn(server, port, host);
  }

  /** Stops accepting, closes idle connections, lets requests in progress finish (5 s at most). */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...[this.server, this.tlsServer].map((server) => server && closeServer(server)), this.http2?.close()]);
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const started = performance.now();
    // Shutting down: this response is the connection's last.
    if (this.closing) response.shouldKeepAlive = false;
    let head: RequestHead | null = null;
    let exchange: PortableExchange | null = null;
    // A request read after its connection began to close is neither answered nor forwarded (client-sockets.ts).
    const tracked = this.sockets.track(request, response, () => {
      if (exchange) return exchange.bodyMalformed();
      if (response.headersSent) return false;
      this.closeAfter(response);
      this.reply(response, head, new Refusal(400, 'bad_request', 'the request body is not valid HTTP/1.1 framing', ''), started);
      return true;
    });
    if (!tracked) return;
    try {
      head = headOf(request, false);
    } catch (error) {
      if (!(error instanceof BadHead)) throw error;
      this.closeAfter(response);
      return this.reply(response, null, new Refusal(400, 'bad_request', error.message, ''), started);
    }
    if (head.transferEncoding !== null && head.transferEncoding.includes(',')) {
      // undici frames a request body itself and sends only `chunked`: a coding under it (gzip, chunked) cannot be passed on
      // as sent, and dropping it would change the message. RFC 9112 §6.1: 501 before any byte reaches a backend; the
      // unread body leaves the connection unusable.
      this.closeAfter(response);
      return this.reply(response, head, new Refusal(501, 'not_implemented', `this engine does not forward the Transfer-Encoding ${JSON.stringify(head.transferEncoding)} (only chunked)`, ''), started);
    }
    const known = head;
    const admission = this.core.admit(known);
    const go = (result: Admission<PortablePool>) => (exchange = this.admitted(request, response, known, result, started));
    if (admission instanceof Promise) admission.then(go);
    else go(admission);
  }

  /** This answer is the connection's last: nothing parsed after it is served. */
  private closeAfter(response: ServerResponse): void {
    response.shouldKeepAlive = false;
    this.sockets.end(response.req.socket);
  }

  private admitted(request: IncomingMessage, response: ServerResponse, head: RequestHead, admission: Admission<PortablePool>, started: number): PortableExchange | null {
    // The client left while a key set was fetched, or its body was refused meanwhile.
    if (response.destroyed || response.writableEnded) return null;
    if (admission instanceof Refusal) {
      this.reply(response, head, admission, started);
      return null;
    }
    if (head.headers.expect?.toLowerCase() === '100-continue' && !head.http10) response.writeContinue();
    const forward = upstreamHead(head, admission.forwarded);
    const exchange = new PortableExchange(request, response, head, admission.entry, admission.balance, forward, admission.forwarded.requestId, this.forwardOptions);
    exchange.start();
    return exchange;
  }

  private reply(response: ServerResponse, head: RequestHead | null, refusal: Refusal, started: number): void {
    const body = refusal.body;
    response.writeHead(refusal.status, { 'content-type': refusal.contentType, 'content-length': Buffer.byteLength(body), ...refusal.headers });
    response.end(body);
    // node:http may close after it on its own (an Expect: 100-continue never granted leaves the body unread).
    if (!response.shouldKeepAlive) this.sockets.end(response.req.socket);
    if (head) this.core.refused(head, refusal, started);
  }

  /**
   * A connection whose upgrade did not happen goes back to node:http, which
   * let go of it at the Upgrade head: the bytes it read past the head first,
   * then the socket as a new connection (http.Server documents emitting
   * 'connection' to hand it a socket), so the next request is parsed as HTTP.
   */
  private readOn(socket: Duplex, rest: Buffer): void {
    if (socket.destroyed) return;
    if (rest.length) socket.unshift(rest);
    this.server.emit('connection', socket);
  }

  private upgrade(request: IncomingMessage, socket: Duplex, rest: Buffer): void {
    let head: RequestHead;
    try {
      head = headOf(request, true);
    } catch (error) {
      if (!(error instanceof BadHead)) throw error;
      return refuse(socket, 400, 'bad_request', error.message);
    }
    // As on the fast engine: node:http does not frame the bytes after an Upgrade head, so a body there has no end.
    if (head.body !== 'none') return refuse(socket, 400, 'bad_request', 'an Upgrade request may not carry a body');
    const started = performance.now();
    const go = (admission: Admission<PortablePool>) => {
      if (admission instanceof Refusal) return refuse(socket, admission.status, admission.error, admission.message, admission.headers ?? {});
      const { entry, balance, forwarded } = admission;
      passUpgradePortable(socket, rest, head, upstreamHead(head, forwarded, true), forwarded.requestId, entry, balance, {
        retries: this.options.retries,
        connectTimeout: this.options.timeouts.connect,
        idleTimeout: this.options.timeouts.idle,
        onDone: (backend, status, upstreamError) =>
          this.core.finished({ app: entry.app, host: head.headers.host ?? '', backend, method: head.method, path: head.url, status, bytes: 0, requestBytes: 0, durationMs: performance.now() - started, retries: 0, upstreamError, requestId: forwarded.requestId }),
      }, (client, bytes) => this.readOn(client, bytes));
    };
    const admission = this.core.admit(head);
    if (admission instanceof Promise) admission.then(go, () => refuse(socket, 502, 'bad_gateway', 'the auth check failed'));
    else go(admission);
  }
}

/** node:http's parsed request as the core reads it (the same RequestHead the fast engine builds from llhttp). */
function headOf(request: IncomingMessage, upgrade: boolean): RequestHead {
  // keepAlive is node:http's business here (it frames the response); the core does not read it.
  const head = requestHead(request.method ?? 'GET', request.url ?? '/', request.httpVersionMinor, request.rawHeaders, true, upgrade, (request.socket as Socket).remoteAddress ?? '');
  if ((request.socket as TLSSocket).encrypted) head.secure = true;
  return head;
}

/** Stops accepting, closes idle connections, lets requests in progress finish (5 s at most). */
async function closeServer(server: Server | HttpsServer): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
  await closed;
  clearTimeout(force);
}
