import type { ServerResponse } from 'node:http';
import type { LoadFigures } from './registry.service.js';

/** How often each subscriber gets this host's figures. */
export const LOAD_STREAM_INTERVAL_MS = 1000;

/**
 * `GET /registry/load/stream`: Server-Sent Events, one `load` event a second
 * with this host's figures (the body of GET /registry/load). Proxies on other
 * hosts subscribe here instead of reading load from the catalog, so figures
 * never go through Consul's Raft log.
 */
export class LoadStreams {
  private readonly open = new Set<ServerResponse>();

  constructor(private readonly figures: () => LoadFigures) {}

  add(response: ServerResponse): void {
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    // A HEAD has no body to stream: Node sends its head only at end(), so without this the client waits forever.
    if (response.req.method === 'HEAD') {
      response.end();
      return;
    }
    // Tells EventSource clients how soon to come back after a dropped connection.
    response.write(`retry: ${LOAD_STREAM_INTERVAL_MS}\n\n`);
    const send = () => response.write(`event: load\ndata: ${JSON.stringify(this.figures())}\n\n`);
    send();
    const timer = setInterval(send, LOAD_STREAM_INTERVAL_MS);
    this.open.add(response);
    response.once('close', () => {
      clearInterval(timer);
      this.open.delete(response);
    });
  }

  /** Ends every stream (at shutdown, so the server need not wait for them). */
  closeAll(): void {
    for (const response of this.open) response.end();
  }
}
