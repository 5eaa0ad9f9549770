import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { ACME_TLS_1, runTlsServer } from '../tls/tls-server.js';
import type { ServedCertificates } from '../tls/served-certificates.js';
import { listenOn, type PortSharing, type TlsTerminator } from '../engine.js';
import { ClientConnection, type Http1Handlers } from './client-connection.js';
import type { Http1Io, TlsAcceptor } from './io.js';
import { Sweep } from './sweep.js';

export interface ListenerOptions {
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeout: number;
  /** A request head must arrive whole within this long (slow-loris clients are cut). */
  headersTimeout: number;
  /** Connections held at once (TLS handshakes in progress included); one more is closed as it is accepted. */
  maxConnections: number;
  /** Told of each connection closed for that. */
  onDrop: (() => void) | null;
  /** How the engine parses, reads and writes. */
  io: Http1Io;
  /** Terminate TLS (tls/tls-server.ts): connections are served once their handshake is done. */
  tls?: { options: TlsOptions; certificates: ServedCertificates; ocspStapling: boolean; /** Takes the connections whose client chose `h2` by ALPN (h2/). */ http2?: ((socket: TLSSocket) => void) | null };
}

/** How often heads that take too long (408) and idle or stalled connections are looked for (and the connections' coarse clock advances). */
const SWEEP_MS = 250;
/** How long close() lets requests in progress finish before cutting them. */
const CLOSE_GRACE_MS = 5_000;

/** The HTTP/1.1 listener: a TCP (or TLS) server whose connections each run a ClientConnection. */
export class Http1Listener {
  private readonly server: Server;
  /** The engine's own TLS termination (the fast engine's, tls/lean-tls.ts), or null: node:tls's server does it. */
  private readonly acceptor: TlsAcceptor | null = null;
  /** The open connections, and the clock they read once per sweep rather than once per read. */
  private readonly connections: Sweep<ClientConnection>;
  /** Every accepted socket (for node:tls, the TCP one under it, from before its handshake; with the acceptor, from after it): close() cuts what is left after its grace. */
  private readonly sockets = new Set<Socket>();
  /** One function for every socket, not a closure (and a once() wrapper) per connection. */
  private readonly forget: (this: Socket) => void;
  /** Serves a plain connection (null on a TLS listener: node:tls or the acceptor hands connections to `serve`). */
  private readonly plain: ((socket: Socket) => void) | null = null;

  constructor(handlers: Http1Handlers, private readonly options: ListenerOptions) {
    // Times were read from the coarse clock, up to one sweep behind: a sweep's grace keeps timeouts from firing early.
    const headersTimeout = options.headersTimeout + SWEEP_MS;
    const keepAliveTimeout = options.keepAliveTimeout + SWEEP_MS;
    this.connections = new Sweep(SWEEP_MS, (connection, now) => {
      if (connection.headStartedAt && now - connection.headStartedAt > headersTimeout) connection.timeOutHead();
      else connection.checkIdle(now, keepAliveTimeout, headersTimeout);
    });
    const sockets = this.sockets;
    this.forget = function (this: Socket) {
      sockets.delete(this);
    };
    // Half-open: a client that shuts down its sending side after its request (nc, some health checks) still gets the answer.
    const secure = options.tls !== undefined;
    const http2 = options.tls?.http2;
    const serve = (socket: Socket) => {
      // A TLS socket is half-open only once its handshake is done: one whose client ended during the handshake closes.
      socket.allowHalfOpen = true;
      if (secure) {
        const protocol = (socket as TLSSocket).alpnProtocol;
        if (protocol === 'h2' && http2) return http2(socket as TLSSocket);
        // A TLS-ALPN-01 validator has seen the challenge's certificate: no HTTP follows (RFC 8737 section 3).
        if (protocol === ACME_TLS_1) return void socket.end();
      }
      // It leaves the sweep itself when it closes (no 'close' listener here: one fewer per connection).
      this.connections.watch(new ClientConnection(socket, handlers, { watch: this.connections, secure, io: options.io }));
    };
    const tls = options.tls;
    this.acceptor = tls
      ? (options.io.terminateTls?.({
          options: tls.options,
          certificates: tls.certificates,
          ocspStapling: tls.ocspStapling,
          handshakeTimeout: options.headersTimeout,
          secure: (socket) => this.accepted(socket, serve),
          admits: (handshakes) => !this.full(handshakes),
          dropped: options.onDrop,
        }) ?? null)
      : null;
    if (tls && !this.acceptor) {
      // llhttp reads the TLS socket's stream (TLSWrap) as it reads a TCP one: plaintext, after OpenSSL.
      // Not allowHalfOpen here: Node then keeps a connection whose client ended mid-handshake open until
      // handshakeTimeout. A handshake gets as long as a request head.
      const server = createTlsServer({ ...tls.options, noDelay: true, handshakeTimeout: options.headersTimeout } as TlsOptions, serve);
      runTlsServer(server, tls.certificates, tls.ocspStapling);
      this.server = server;
    } else {
      // With the engine's own TLS termination the acceptor takes each connection before net makes a socket
      // of it; one that reached net all the same must not be served in plaintext on the TLS port.
      this.server = createServer({ noDelay: true, allowHalfOpen: true });
      this.plain = this.acceptor ? (socket) => socket.destroy() : serve;
    }
  }

  /** A connection the acceptor terminated TLS on: counted for close() as the server's own are. */
  private accepted(socket: Socket, serve: (socket: Socket) => void): void {
    this.track(socket);
    serve(socket);
  }

  /** At proxy.maxConnections, counting `handshakes` the acceptor has in progress besides the sockets here. */
  private full(handshakes: number): boolean {
    return this.sockets.size + handshakes >= this.options.maxConnections;
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', this.forget);
  }

  /** Who terminates TLS here: the engine through TLSWrap (its acceptor), node:tls, or nobody (a plain listener). */
  get tlsTerminator(): TlsTerminator | null {
    if (!this.options.tls) return null;
    return this.acceptor ? 'TLSWrap' : 'node:tls';
  }

  listen(port: number, host: string, sharing?: PortSharing): Promise<number> {
    // proxy.maxConnections is counted here rather than by net's server.maxConnections: with the primary's round
    // robin (proxy.accept: primary) a worker at net's limit hands the connection back to the primary, which
    // offers it again, to the same worker when it is the only one, until a slot frees: a loop while full.
    // On a node:tls listener this runs after node:tls wrapped the TCP socket; closing it ends both.
    const onDrop = this.options.onDrop;
    this.server.on('connection', (socket: Socket) => {
      if (this.full(0)) {
        socket.destroy();
        onDrop?.();
        return;
      }
      this.track(socket);
      this.plain?.(socket);
    });
    // Before any connection is delivered: 'listening' comes on the tick the handle starts listening.
    if (this.acceptor) this.server.once('listening', () => this.acceptor!.attach(this.server));
    return listenOn(this.server, port, host, sharing);
  }

  /** Stops accepting, closes idle connections, lets requests in progress finish (5 s at most). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of this.connections.watched()) connection.closeWhenIdle();
    const force = setTimeout(() => {
      for (const socket of this.sockets) socket.destroy();
    }, CLOSE_GRACE_MS);
    this.acceptor?.close();
    await closed;
    clearTimeout(force);
  }
}
