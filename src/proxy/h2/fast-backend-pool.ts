import type { Dispatcher } from 'undici';
import { UpstreamPool, type UpstreamPoolOptions } from '../http1/upstream-pool.js';
import type { PortablePool } from '../portable/portable-exchange.js';

/**
 * The fast engine's pool of one backend, with an undici pool beside it made
 * at the first HTTP/2 client's request: HTTP/2 streams go through the
 * portable engine's exchange (http2-front.ts), which speaks undici. Both
 * close together when the backend leaves the route table.
 */
export class FastBackendPool extends UpstreamPool {
  private undici: PortablePool | null = null;

  constructor(
    host: string,
    port: number,
    options: UpstreamPoolOptions,
    private readonly createUndici: () => PortablePool,
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
