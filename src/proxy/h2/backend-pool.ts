import type { Dispatcher } from 'undici';
import { UpstreamPool, type UpstreamPoolOptions } from '../http1/upstream-pool.js';
import type { UndiciPool } from './undici-exchange.js';

/**
 * A backend's pool in either engine: its raw-socket connections for HTTP/1.1
 * requests, with an undici pool beside it made at the first HTTP/2 client's
 * request (HTTP/2 streams go through the undici exchange, http2-front.ts).
 * Both close together when the backend leaves the route table.
 */
export class H2BackendPool extends UpstreamPool {
  private undici: UndiciPool | null = null;

  constructor(
    host: string,
    port: number,
    options: UpstreamPoolOptions,
    private readonly createUndici: () => UndiciPool,
  ) {
    super(host, port, options);
  }

  dispatcher(): Dispatcher {
    return (this.undici ??= this.createUndici());
  }

  override close(): void {
    super.close();
    void this.undici?.close();
  }
}
