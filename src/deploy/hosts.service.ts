import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { Repository } from 'typeorm';
import { InjectLogger } from '../common/core.module.js';
import { VERSION } from '../common/version.js';
import { InjectConfig } from '../config/config.module.js';
import type { DozenConfig } from '../config/config.schema.js';
import { HostEntity } from './deploy.entity.js';

/** A host that has not written its row for this long is `lost`, and so are its instances. */
export const HOST_LOST_AFTER_MS = 30_000;
const HOST_REFRESH_MS = 10_000;

export interface HostView {
  name: string;
  address: string;
  labels: Record<string, string>;
  version: string;
  modules: string[];
  lastSeenAt: string;
  state: 'up' | 'lost';
}

/** The hosts that run deploy: each keeps its own row fresh every 10 s. */
@Injectable()
export class HostsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @InjectConfig() private readonly config: DozenConfig,
    @InjectLogger() logger: Logger,
    @InjectRepository(HostEntity) private readonly hosts: Repository<HostEntity>,
  ) {
    this.log = logger.child({ module: 'deploy' });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch((error: unknown) => this.log.warn({ err: error }, 'cannot refresh this host row')), HOST_REFRESH_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  async list(): Promise<HostView[]> {
    return (await this.hosts.find({ order: { name: 'ASC' } })).map(view);
  }

  async find(name: string): Promise<HostView | null> {
    const row = await this.hosts.findOneBy({ name });
    return row ? view(row) : null;
  }

  private async refresh(): Promise<void> {
    await this.hosts.save({ name: this.config.host.name, address: this.config.host.address, labels: {}, version: VERSION, modules: this.config.modules, lastSeenAt: Date.now() });
  }
}

function view(row: HostEntity): HostView {
  return { ...row, lastSeenAt: new Date(row.lastSeenAt).toISOString(), state: Date.now() - row.lastSeenAt > HOST_LOST_AFTER_MS ? 'lost' : 'up' };
}
