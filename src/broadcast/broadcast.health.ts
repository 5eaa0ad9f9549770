import { Injectable } from '@nestjs/common';
import { HealthService, type HealthIndicator, type HealthResult } from '../common/health.js';
import { BinlogSource } from './binlog/binlog.source.js';
import { BroadcastService } from './broadcast.service.js';

/**
 * Up while the hub runs, its rooms (and the binlog position) are being saved to dozen's database and,
 * when the binlog source is on, while it reads; down names what stopped it.
 */
@Injectable()
export class BroadcastHealth implements HealthIndicator {
  constructor(
    health: HealthService,
    private readonly broadcast: BroadcastService,
    private readonly binlog: BinlogSource,
  ) {
    health.register('broadcast', this);
  }

  async check(): Promise<HealthResult> {
    const details: Record<string, unknown> = { rooms: this.broadcast.rooms().length };
    const notSaving = this.broadcast.store.problem() ?? this.binlog.checkpointProblem;
    if (notSaving) return { status: 'down', reason: notSaving, details };
    if (this.binlog.status === 'off') return { status: 'up', details };
    details.binlog = { status: this.binlog.status, position: this.binlog.position(), ...(this.binlog.advice ? { advice: this.binlog.advice } : {}) };
    if (this.binlog.status === 'running' || this.binlog.status === 'starting') return { status: 'up', details };
    return { status: 'down', reason: this.binlog.problem ?? `binlog source ${this.binlog.status}`, details };
  }
}
