import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { Repository } from 'typeorm';
import { InjectLogger } from '../../common/core.module.js';
import type { DozenConfig } from '../../config/config.schema.js';
import { InjectConfig } from '../../config/config.module.js';
import { LogAppenders } from '../log-appenders.js';
import { OBJECT_STORE, type ObjectStore } from '../object-store.js';
import { StorageMetrics } from '../storage-metrics.js';
import { TailOffset } from '../storage.entity.js';
import { TailOffsets } from './tail-offsets.js';
import { Tailer } from './tailer.js';
import type { TailStatus } from './tail-status.js';

/** Runs the tailer inside dozen when `storage.tail` lists files. */
@Injectable()
export class TailerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly tailer: Tailer | null;

  constructor(
    @InjectConfig() config: DozenConfig,
    @Inject(OBJECT_STORE) store: ObjectStore,
    @InjectRepository(TailOffset) repository: Repository<TailOffset>,
    @InjectLogger() logger: Logger,
    metrics: StorageMetrics,
    appenders: LogAppenders,
  ) {
    const log = logger.child({ module: 'storage', component: 'tailer' });
    const { tail } = config.storage;
    this.tailer = tail.length ? new Tailer(tail, config.storage.tailer, config.host.name, store, new TailOffsets(repository), appenders, log, metrics) : null;
    if (this.tailer) metrics.watchTailer([...new Set(tail.map((source) => source.glob))], () => this.status());
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.tailer?.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.tailer?.stop();
  }

  /** Calls `listener` after the tailer's status changed; returns the unwatch. */
  onChange(listener: () => void): () => void {
    return this.tailer?.onChange(listener) ?? (() => undefined);
  }

  status(): TailStatus & { enabled: boolean } {
    return this.tailer ? { enabled: true, ...this.tailer.status() } : { enabled: false, files: [], storeUp: true, lagBytes: 0, lagSeconds: 0 };
  }
}
