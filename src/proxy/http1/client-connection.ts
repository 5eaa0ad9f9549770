import type { Socket } from 'node:net';
import type { Http1Io, Http1Parser, ParseError, ParserOwner } from './io.js';
import { BadHead, requestHead, type RequestHead } from './request-head.js';
import { InboundRequest } from './inbound-request.js';
import { refuse } from './refuse.js';

export interface Http1Handlers {
  /** A request whose turn has come (pipelined requests wait for the one before). */
  request(request: InboundRequest): void;
  /**
   * An Upgrade handshake, served as a request: reading stops until the
   * handler either answers it as any response (the connection then goes on
   * as HTTP, with the bytes that followed the head) or, once the backend
   * switched protocols, takes the socket over from `tunnel`.
   */
  upgrade(request: InboundRequest, tunnel: UpgradeTunnel): void;
}

/** The way out of HTTP for an Upgrade request's connection. */
export interface UpgradeTunnel {
  /** Hands the socket over for good, with the bytes the client sent after its handshake. */
  take(): { socket: Socket; rest: Buffer };
}

export interface ConnectionWatch {
  /** Milliseconds since the epoch, advanced by the listener a few times a second. */
  readonly now: number;
  unwatch(connection: ClientConnection): void;
}

export interface ClientConnectionOptions {
  /** The listener's sweep: its coarse clock, and where the connection leaves once closed or handed over. */
  watch: ConnectionWatch;
  /** The socket is a TLS one (heads are marked `secure`). */
  secure?: boolean;
  /** How the engine parses, reads and writes. */
  io: Http1Io;
}

/** Bytes a second a request body must average once the grace (`timeouts.clientHeaders`) is over (Apache's MinRate). */
const MIN_BODY_RATE = 500;

/**
 * One client connection: feeds its bytes to llhttp (through `io`), turns each request into
 * an InboundRequest and serves them one after the other, in order.
 * Bytes of a request not yet served (pipelining) or of a body no backend
 * reads yet are held, and the socket is paused meanwhile, so what is held
 * stays within one read.
 */
export class ClientConnection implements ParserOwner {
  readonly parser: Http1Parser;
  readonly io: Http1Io;
  /** Requests received and not yet answered; the first is being served. */
  private readonly queue: InboundRequest[] = [];
  /** The request whose body llhttp is reading now. */
  private parsing: InboundRequest | null = null;
  /** An Upgrade request whose head was just read: `executed` stops reading and hands it on. */
  private upgradeRequest: InboundRequest | null = null;
  /** Bytes read after an Upgrade head: the tunnel's if the backend switches, else the next requests'. */
  private upgradeRest: Buffer | null = null;
  /** A refusal (400 ...) waiting for the requests before it to be answered; nothing more is read. */
  private refusal: { status: number; error: string; message: string } | null = null;
  /** The socket's remote address, read once (Node's getter makes a call into C++ each time). */
  private peer: string | undefined;
  private paused = false;
  private closed = false;
  /** The listener is shutting down: no new request is served on this connection. */
  private closing = false;
  /** The client shut down its sending side (half-close): the requests it sent are answered, then the connection ends. */
  private clientEnded = false;
  /** A head has begun and is not yet whole. */
  private inHead = false;
  /** When the head being received started (ms, coarse), 0 when none is pending: the listener's sweep enforces the headers timeout. */
  headStartedAt = 0;
  /** The socket left HTTP (an Upgrade): it belongs to the upgrade handler now. */
  private handedOver = false;
  /** Last bytes from the client or last response finished (ms, coarse). */
  private lastActive: number;
  /**
   * The body being received: since when (ms, coarse; moved on by the time reading was paused for the
   * backend, which is not the client's time) and how many bytes came. 0: no body pending.
   */
  private bodySince = 0;
  private bodyBytes = 0;
  /** When the sweep last looked (ms, coarse). */
  private lastChecked = 0;
  private readonly watch: ConnectionWatch;
  private readonly secure: boolean;

  constructor(
    readonly socket: Socket,
    private readonly handlers: Http1Handlers,
    options: ClientConnectionOptions,
  ) {
    this.io = options.io;
    this.parser = options.io.createParser('request', this);
    this.watch = options.watch;
    this.secure = options.secure ?? false;
    this.lastActive = this.watch.now;
    // No setNoDelay here: the listener's server sets TCP_NODELAY on each socket it accepts. On a TLS socket
    // Node would make the setsockopt call again (through the TLS socket to the TCP one under it), once per connection.
    socket.on('error', noop);
    socket.on('close', this.onClose);
    socket.on('end', this.onEnd);
    options.io.readClient(socket, this.parser, this);
  }

  /** llhttp read bytes from the socket: `bytes` are those bytes (always after an Upgrade head). */
  executed(result: number | ParseError, bytes?: Buffer): void {
    this.lastActive = this.watch.now;
    if (typeof result !== 'number') return this.parseFailed(result);
    // Part of a head in, not all of it: the headers timeout runs from here.
    if (!this.inHead) this.headStartedAt = 0;
    else if (this.headStartedAt === 0) this.headStartedAt = this.watch.now;
    const upgrade = this.upgradeRequest;
    if (upgrade) {
      // llhttp stopped at the end of the handshake's head: what follows is held until the backend answers it.
      this.upgradeRequest = null;
      this.upgradeRest = bytes!.subarray(result);
      this.pause();
      this.handlers.upgrade(upgrade, { take: () => this.handOver() });
    }
  }

  /**
   * Called by the listener's sweep (no socket timer, which Node would re-arm at every read and write).
   * `bodyGrace`: how long a request body may take before it is held to MIN_BODY_RATE.
   */
  checkIdle(now: number, keepAliveTimeout: number, bodyGrace: number): void {
    if (this.handedOver) return; // a WebSocket's silence is its own business
    const elapsed = this.lastChecked === 0 ? 0 : now - this.lastChecked;
    this.lastChecked = now;
    if (this.bodySince !== 0) {
      if (this.paused) this.bodySince += elapsed;
      // A body trickling in (slowhttptest -B) held the backend connection it streams to, and a few hundred held
      // an app's pool: after the grace it must have come at MIN_BODY_RATE, as Apache's mod_reqtimeout asks.
      else if (now - this.bodySince > bodyGrace + (this.bodyBytes * 1000) / MIN_BODY_RATE) return void this.socket.destroy();
    }
    const serving = this.queue[0];
    // A request waiting on its backend is the backend timeouts' business; an idle or stalled client is ours.
    if (serving ? serving.waitingSince !== 0 && now - serving.waitingSince > keepAliveTimeout : now - this.lastActive > keepAliveTimeout) this.socket.destroy();
  }

  /** The client sent all it will send: answer what it asked, then close. */
  private readonly onEnd = (): void => {
    this.clientEnded = true;
    // A body cut short can never reach its backend whole.
    if (this.parsing) return void this.socket.destroy();
    if (!this.queue.length) this.endSocket();
  };

  private readonly onClose = (): void => {
    this.watch.unwatch(this);
    this.closed = true;
    this.headStartedAt = 0;
    for (const request of this.queue) request.clientClosed();
    this.queue.length = 0;
    this.io.stopReadingClient(this.socket, this.parser, false);
    this.parser.free();
  };

  messageBegin(): void {
    this.inHead = true;
  }

  /** llhttp read a whole head. */
  headersComplete(versionMajor: number, versionMinor: number, rawHeaders: string[], method: string | undefined, url: string, _status: unknown, _reason: unknown, upgrade: boolean, keepAlive: boolean): number {
    this.inHead = false;
    // llhttp reads HTTP/0.9 and HTTP/2.0 request lines too (and fails any other version but 1.0 and 1.1: onParseError).
    if (versionMajor !== 1) this.refuseVersion(`HTTP/${versionMajor}.${versionMinor}`);
    else this.accept(method, url, versionMinor, rawHeaders, keepAlive, upgrade);
    return 0;
  }

  /** Serves the head now, queues it behind the one being served, or refuses it. */
  private accept(method: string | undefined, url: string, versionMinor: number, rawHeaders: string[], keepAlive: boolean, upgrade: boolean): void {
    if (this.closed || this.refusal) return;
    if (method === undefined) return this.refuseInTurn(501, 'not_implemented', 'the request method is not one this proxy knows');
    let head: RequestHead;
    try {
      head = requestHead(method, url, versionMinor, rawHeaders, keepAlive, upgrade, (this.peer ??= this.socket.remoteAddress ?? ''));
    } catch (error) {
      if (error instanceof BadHead) return this.refuseInTurn(400, 'bad_request', error.message);
      throw error;
    }
    if (this.secure) head.secure = true;
    if (upgrade) {
      if (method === 'CONNECT') return this.refuseInTurn(405, 'method_not_allowed', 'this proxy does not open CONNECT tunnels');
      if (head.body !== 'none') return this.refuseInTurn(400, 'bad_request', 'an Upgrade request may not carry a body');
      // Pipelined behind requests still being answered: the tunnel could not start in order.
      if (this.queue.length) return this.refuseInTurn(400, 'bad_request', 'an Upgrade request must wait for the answers before it');
      const request = new InboundRequest(head, this);
      this.queue.push(request);
      this.upgradeRequest = request;
      return;
    }
    const request = new InboundRequest(head, this);
    // A request without a body is whole with its head: llhttp need not say so.
    const hasBody = head.body !== 'none';
    this.parser.tellComplete(hasBody);
    if (hasBody) {
      this.parsing = request;
      this.bodySince = this.watch.now;
      this.bodyBytes = 0;
    }
    this.queue.push(request);
    if (this.queue.length === 1) this.handlers.request(request);
    else this.pause();
  }

  body(chunk: Buffer): void {
    this.bodyBytes += chunk.length;
    // A refused request's body is read past, never forwarded.
    this.parsing?.receiveBody(chunk);
  }

  messageComplete(): void {
    const request = this.parsing;
    this.parsing = null;
    this.bodySince = 0;
    request?.receiveEnd();
  }

  /** The request at the head of the queue has its whole response written. */
  responded(request: InboundRequest, keepOpen: boolean): void {
    if (this.queue[0] !== request) return;
    this.queue.shift();
    this.lastActive = this.watch.now;
    if (!keepOpen || this.closing) {
      this.closed = true;
      this.endSocket();
      return;
    }
    // Before a half-close is honoured: a paused Readable still tells 'end' once it holds no bytes (the portable engine's client sockets).
    if (this.refusal && !this.queue.length) return this.refuseAndClose(this.refusal.status, this.refusal.error, this.refusal.message);
    if (this.clientEnded && !this.queue.length && !this.upgradeRest?.length) {
      this.closed = true;
      this.endSocket();
      return;
    }
    const rest = this.upgradeRest;
    if (rest !== null) {
      // An Upgrade the backend did not switch: what the client sent after it is HTTP again.
      this.upgradeRest = null;
      // Requests found there are served as they are accepted: serveNext would serve the first twice.
      if (rest.length) this.executed(this.parser.execute(rest), rest);
      if (this.closed || this.refusal || this.upgradeRest !== null) return;
      if (this.queue.length === 0 && this.clientEnded) return void this.endSocket();
      return this.resume();
    }
    this.serveNext();
  }

  /**
   * Serves the next pipelined request, if any, and reads on. A client that
   * sends requests without reading the answers waits until the kernel took
   * the last answer: answers never pile up in the proxy's memory, and the
   * keep-alive timeout cuts a client that stalls there.
   */
  private serveNext(): void {
    if (this.closed) return;
    const next = this.queue[0];
    if (next !== undefined && this.io.writesWaiting(this.socket)) {
      next.waitingSince = this.watch.now;
      this.socket.once('drain', () => {
        next.waitingSince = 0;
        this.serveNext();
      });
      return;
    }
    if (next !== undefined) this.handlers.request(next);
    this.resume();
  }

  /** Shutting down: close now if idle, else after the response in progress. */
  closeWhenIdle(): void {
    this.closing = true;
    if (!this.queue.length) this.endSocket();
  }

  /**
   * Ends the socket once: Node's end() on a socket already ended builds an ERR_STREAM_ALREADY_FINISHED
   * (a stack trace and a formatted message) only to drop it. That was every `Connection: close` exchange:
   * the response ends the socket, then the client's FIN ('end') ended it again, at about 4 % of a worker's CPU.
   */
  private endSocket(): void {
    if (!this.socket.writableEnded) this.socket.end();
  }

  /** The head being received took longer than the headers timeout. */
  timeOutHead(): void {
    this.headStartedAt = 0;
    if (!this.queue.length) this.refuseAndClose(408, 'request_timeout', 'the request head did not arrive in time');
    else this.socket.destroy();
  }

  /** Stops reading the socket (the kernel's buffer fills and TCP pushes back on the client). */
  pause(): void {
    if (this.paused || this.closed) return;
    this.paused = true;
    this.io.setReading(this.socket, false);
  }

  resume(): void {
    // A refusal waiting its turn, or an Upgrade waiting for its backend, reads nothing more.
    if (!this.paused || this.closed || this.refusal || this.upgradeRest !== null) return;
    // Requests still waiting their turn keep the socket paused.
    if (this.queue.length > 1) return;
    this.paused = false;
    this.io.setReading(this.socket, true);
  }

  private parseFailed(error: ParseError): void {
    const broken = this.parsing;
    this.parsing = null;
    if (broken !== null) {
      // A body that turned out malformed (a bad chunk): its backend request is void. Once part of the answer is out, cutting is the only signal left.
      if (broken.headSent) return void this.socket.destroy();
      broken.abandon();
      const at = this.queue.indexOf(broken);
      if (at >= 0) this.queue.splice(at, 1);
    }
    if (error.code === 'HPE_HEADER_OVERFLOW') return this.refuseInTurn(431, 'headers_too_large', 'the request head is larger than 16 KiB');
    if (error.code === 'HPE_INVALID_VERSION') return this.refuseVersion(error.reason ?? error.code);
    this.refuseInTurn(400, 'bad_request', `the request is not valid HTTP/1.1 (${error.reason ?? error.code})`);
  }

  /** 505, as nginx answers a version it does not speak. */
  private refuseVersion(version: string): void {
    this.refuseInTurn(505, 'http_version_not_supported', `${version}: this listener speaks HTTP/1.0 and 1.1 (and HTTP/2 by ALPN over TLS)`);
  }

  /** Refuses and closes once the requests received before are answered (in order); nothing more is read meanwhile. */
  private refuseInTurn(status: number, error: string, message: string): void {
    if (!this.queue.length) return this.refuseAndClose(status, error, message);
    this.refusal ??= { status, error, message };
    this.pause();
  }

  private refuseAndClose(status: number, error: string, message: string): void {
    if (this.closed) return;
    this.closed = true;
    refuse(this.socket, status, error, message);
  }

  /** The backend switched protocols: the socket stops being HTTP, llhttp and this connection let go of it. `rest` is the read's own copy, so it is handed on as is. */
  private handOver(): { socket: Socket; rest: Buffer } {
    const rest = this.upgradeRest ?? Buffer.alloc(0);
    this.upgradeRest = null;
    this.queue.length = 0;
    this.closed = true;
    this.handedOver = true;
    this.watch.unwatch(this);
    this.socket.off('close', this.onClose);
    this.socket.off('end', this.onEnd);
    this.io.stopReadingClient(this.socket, this.parser, true);
    this.parser.free();
    return { socket: this.socket, rest };
  }
}

function noop(): void {}

