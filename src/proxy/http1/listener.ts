import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { ClientConnection, type Http1Handlers } from './client-connection.js';

export interface ListenerOptions {
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeout: number;
  /** A request head must arrive whole within this long (slow-loris clients are cut). */
  headersTimeout: number;
}

/** How often heads that take too long and idle connections are looked for (and the connections' coarse clock advances). */
const SWEEP_MS = 250;
/** How long close() lets requests in progress finish before cutting them. */
const CLOSE_GRACE_MS = 5_000;

/** The HTTP/1.1 listener: a TCP server whose connections each run a ClientConnection. */
export class Http1Listener {
  private readonly server: Server;
  private readonly connections = new Set<ClientConnection>();
  private readonly sweep: NodeJS.Timeout;
  /** A clock read once per sweep, not once per read of every connection. */
  private readonly clock = { now: Date.now() };

  constructor(handlers: Http1Handlers, private readonly options: ListenerOptions) {
    this.server = createServer({ noDelay: true }, (socket: Socket) => {
      const connection = new ClientConnection(socket, handlers, { clock: this.clock });
      this.connections.add(connection);
      socket.once('close', () => this.connections.delete(connection));
    });
    this.sweep = setInterval(() => this.checkTimeouts(), SWEEP_MS).unref();
  }

  async listen(port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops accepting, closes idle connections, lets requests in progress finish (5 s at most). */
  async close(): Promise<void> {
    clearInterval(this.sweep);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of this.connections) connection.closeWhenIdle();
    const force = setTimeout(() => {
      for (const connection of this.connections) connection.socket.destroy();
    }, CLOSE_GRACE_MS);
    await closed;
    clearTimeout(force);
  }

  /** Heads that take too long get 408; idle and stalled connections are closed. */
  private checkTimeouts(): void {
    const now = (this.clock.now = Date.now());
    // Times were read from the coarse clock, up to one sweep behind: a sweep's grace keeps timeouts from firing early.
    const headersTimeout = this.options.headersTimeout + SWEEP_MS;
    const keepAliveTimeout = this.options.keepAliveTimeout + SWEEP_MS;
    for (const connection of this.connections) {
      if (connection.headStartedAt && now - connection.headStartedAt > headersTimeout) connection.timeOutHead();
      else connection.checkIdle(now, keepAliveTimeout);
    }
  }
}
