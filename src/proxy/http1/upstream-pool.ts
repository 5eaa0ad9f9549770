import { connect } from 'node:net';
import type { Http1Io } from './io.js';
import { UPSTREAM_READS, UpstreamConnection, UpstreamError, type ConnectionOwner, type UpstreamFailure } from './upstream-connection.js';

export interface UpstreamPoolOptions {
  /** Idle connections kept for reuse; a connection freed past it is closed. */
  idleConnections: number;
  /** Connections open at once, busy ones included, requests beyond waiting their turn; 0: no limit. */
  maxConnections: number;
  connectTimeout: number;
  /** An idle connection is closed after this long. */
  keepAliveTimeout: number;
  /** How the engine parses and writes. */
  io: Http1Io;
}

/** Who asked the pool for a connection (an object, not a callback: no closure per request). */
export interface Asker {
  /**
   * Hands a connection over, or the reason none could be opened. Returns false
   * when the asker no longer wants it (its client left while it waited), so the
   * connection goes to the next one.
   */
  acquired(error: UpstreamError | null, connection: UpstreamConnection | null): boolean;
}

/** How much sooner than the backend's own Keep-Alive timeout an idle connection is let go (undici's keepAliveTimeoutThreshold). */
const KEEP_ALIVE_MARGIN_MS = 1_000;

/**
 * Keep-alive connections to one backend: idle ones are reused newest first
 * (warm, and the oldest time out when traffic drops), at most `idleConnections`
 * kept; new ones opened up to `maxConnections` (if set), beyond that askers queue.
 */
export class UpstreamPool implements ConnectionOwner {
  private readonly idle: UpstreamConnection[] = [];
  private readonly waiting: Asker[] = [];
  private open = 0;
  private closing = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly options: UpstreamPoolOptions,
  ) {}

  acquire(asker: Asker): void {
    const connection = this.idle.pop();
    if (connection) {
      if (!asker.acquired(null, connection)) this.idle.push(connection);
      return;
    }
    if (!this.options.maxConnections || this.open < this.options.maxConnections) this.connect(asker);
    else this.waiting.push(asker);
  }

  /**
   * After an exchange: a reusable connection serves the next asker or rests; any other is closed. It rests
   * no longer than the backend said it keeps it (Keep-Alive `timeout=`) less a second, as undici does: a
   * request sent on a connection the backend closes at that moment fails (a POST is not retried), and
   * Node's servers close idle connections after 5 s where the pool would keep them 30.
   */
  release(connection: UpstreamConnection, reusable: boolean): void {
    if (!reusable || this.closing) return connection.destroy();
    while (this.waiting.length) {
      if (this.waiting.shift()!.acquired(null, connection)) return;
    }
    if (this.idle.length >= this.options.idleConnections) return connection.destroy();
    let rest = this.options.keepAliveTimeout;
    if (connection.keepAliveSeconds >= 0) {
      rest = Math.min(rest, connection.keepAliveSeconds * 1000 - KEEP_ALIVE_MARGIN_MS);
      if (rest <= 0) return connection.destroy();
    }
    connection.rest(rest);
    this.idle.push(connection);
  }

  closed(connection: UpstreamConnection): void {
    const at = this.idle.indexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
    this.slotFreed();
  }

  /** Closes idle connections now, busy ones when their exchange ends. */
  close(): void {
    this.closing = true;
    for (const connection of this.idle.splice(0)) connection.destroy();
    for (const asker of this.waiting.splice(0)) asker.acquired(new UpstreamError('upstream_error', 'the backend left the route table'), null);
  }

  /** A connection closed or never opened: an asker that waited gets a new one. */
  private slotFreed(): void {
    this.open--;
    const next = this.waiting.shift();
    if (next && !this.closing) this.connect(next);
  }

  private connect(asker: Asker): void {
    this.open++;
    const socket = connect({ host: this.host, port: this.port, noDelay: true, onread: UPSTREAM_READS });
    socket.setTimeout(this.options.connectTimeout);
    const failed = (kind: UpstreamFailure, message: string) => {
      socket.destroy();
      asker.acquired(new UpstreamError(kind, message), null);
    };
    const onTimeout = () => failed('connect_timeout', `no connection to ${this.host}:${this.port} within ${this.options.connectTimeout} ms`);
    const onError = (error: Error) => failed(connectFailure(error), error.message);
    const onCloseEarly = () => this.slotFreed();
    socket.once('timeout', onTimeout);
    socket.once('error', onError);
    socket.once('close', onCloseEarly);
    socket.once('connect', () => {
      socket.off('timeout', onTimeout);
      socket.off('error', onError);
      socket.off('close', onCloseEarly);
      socket.setTimeout(0);
      const connection = new UpstreamConnection(socket, this, this.options.io);
      if (!asker.acquired(null, connection)) this.release(connection, true);
    });
  }
}

function connectFailure(error: Error): UpstreamFailure {
  switch ((error as { code?: string }).code) {
    case 'ECONNREFUSED':
      return 'connect_refused';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    case 'ETIMEDOUT':
      return 'connect_timeout';
    default:
      return 'upstream_error';
  }
}
