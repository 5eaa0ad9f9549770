import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Counter } from 'prom-client';
import { HealthService } from '../common/health.js';
import { Metrics } from '../common/metrics.js';
import type { DozenConfig } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';
import { Notifier } from './notifier.service.js';

/** Checks module health every `notify.healthCheckSeconds` and tells of each module that went down or came back. */
@Injectable()
export class HealthWatch implements OnApplicationBootstrap, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  /** Modules start as up: one that is down at start is told about. */
  private readonly last = new Map<string, 'up' | 'down'>();

  private readonly checks: Counter;

  constructor(
    private readonly health: HealthService,
    private readonly notifier: Notifier,
    @InjectConfig() private readonly config: DozenConfig,
    metrics: Metrics,
  ) {
    this.checks = new Counter({ name: 'dozen_notify_health_checks_total', help: 'module health checks made to notify of changes', registers: [metrics.registry] });
  }

  onApplicationBootstrap(): void {
    const check = () => {
      this.check().finally(() => (this.timer = setTimeout(check, this.config.notify.healthCheckSeconds * 1000).unref()));
    };
    check();
  }

  private async check(): Promise<void> {
    const report = await this.health.report();
    this.checks.inc();
    for (const [module, health] of Object.entries(report.modules)) {
      if (health.status === 'disabled') continue;
      // A warning (a certificate near expiry) still serves: only down and back up are news here.
      const status = health.status === 'down' ? 'down' : 'up';
      const before = this.last.get(module) ?? 'up';
      this.last.set(module, status);
      if (before === status) continue;
      this.notifier.notify(
        status === 'down'
          ? { kind: 'module.down', subject: module, message: health.reason ?? 'down', detail: { reason: health.reason } }
          : { kind: 'module.up', subject: module, message: 'up again' },
      );
    }
  }

  onModuleDestroy(): void {
    clearTimeout(this.timer);
  }
}
