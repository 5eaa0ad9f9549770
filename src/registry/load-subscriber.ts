import type { Logger } from 'pino';
import { textRecords } from '../common/text-records.js';
import type { CatalogInstance } from './catalog.js';
import type { LoadFigures } from './registry.service.js';
import type { Load } from './routes.js';

const RECONNECT_DELAY_MS = 1000;

/** The admin API of a dozen host, from its entry in the catalog (service `dozen`: its address and admin port). */
export function peerUrl(host: Pick<CatalogInstance, 'address' | 'port'>): string {
  return `http://${host.address.includes(':') ? `[${host.address}]` : host.address}:${host.port}`;
}

/**
 * Follows the load stream (`GET /registry/load/stream`) of every other dozen
 * host the catalog lists as service `dozen`, and hands each figure to
 * `onLoad`. This is how a proxy learns the load of instances on other hosts
 * without the figures ever passing through Consul.
 */
export class LoadSubscriber {
  private readonly streams = new Map<string, AbortController>();

  constructor(
    private readonly self: string,
    private readonly token: string,
    private readonly onLoad: (instance: string, load: Load) => void,
    private readonly log: Logger,
  ) {}

  /** Opens streams to hosts that appeared and closes those of hosts that left. */
  update(hosts: CatalogInstance[]): void {
    const wanted = new Map(hosts.filter((host) => host.host !== this.self && host.status === 'passing').map((host) => [peerUrl(host), host]));
    for (const [url, controller] of this.streams) {
      if (wanted.has(url)) continue;
      controller.abort();
      this.streams.delete(url);
    }
    for (const url of wanted.keys()) {
      if (this.streams.has(url)) continue;
      const controller = new AbortController();
      this.streams.set(url, controller);
      void this.follow(url, controller.signal);
    }
  }

  close(): void {
    for (const controller of this.streams.values()) controller.abort();
    this.streams.clear();
  }

  private async follow(url: string, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const response = await fetch(`${url}/registry/load/stream`, { headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' }, signal });
        if (response.status !== 200 || !response.body) throw new Error(`load stream answered ${response.status}`);
        this.log.info({ peer: url }, 'following load stream');
        for await (const block of textRecords(response.body, '\n\n')) this.receive(block);
      } catch (error) {
        if (signal.aborted) return;
        this.log.warn({ peer: url, err: error }, 'load stream lost; reconnecting');
      }
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_DELAY_MS).unref());
    }
  }

  private receive(block: string): void {
    if (!/^event: load$/m.test(block)) return;
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (!data) return;
    const figures = JSON.parse(data) as LoadFigures;
    const receivedAt = Date.now();
    for (const entry of figures.instances) {
      if (!entry.load) continue;
      // Ages, not clock readings, cross hosts: the peer's clock may differ from ours.
      const age = figures.at - entry.load.at;
      this.onLoad(entry.instance, { ...entry.load, at: receivedAt - age });
    }
  }
}
