import { Injectable } from '@nestjs/common';
import { MODULE_NAMES, type DozenConfig, type ModuleName } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';

export interface HealthResult {
  /** `warning`: serving, but something needs a person soon (a certificate about to expire). */
  status: 'up' | 'warning' | 'down';
  /** Why a module is down (or warns), in words an operator can act on. */
  reason?: string;
  details?: Record<string, unknown>;
}

/** What each module gives the health endpoint: a cheap check of the engine it drives. */
export interface HealthIndicator {
  check(): Promise<HealthResult>;
}

export type ModuleHealth = HealthResult | { status: 'disabled' };

export interface HealthReport {
  status: 'up' | 'warning' | 'down';
  modules: Record<ModuleName, ModuleHealth>;
}

const CHECK_TIMEOUT_MS = 2000;

/** Collects the indicators of the modules that run on this host; the others report `disabled`. */
@Injectable()
export class HealthService {
  private readonly indicators = new Map<ModuleName, HealthIndicator>();

  constructor(@InjectConfig() private readonly config: DozenConfig) {}

  register(module: ModuleName, indicator: HealthIndicator): void {
    this.indicators.set(module, indicator);
  }

  async report(): Promise<HealthReport> {
    const entries = await Promise.all(
      MODULE_NAMES.map(async (name): Promise<[ModuleName, ModuleHealth]> => {
        if (!this.config.modules.includes(name)) return [name, { status: 'disabled' }];
        const indicator = this.indicators.get(name);
        if (!indicator) return [name, { status: 'down', reason: 'module did not start' }];
        return [name, await checkWithTimeout(indicator)];
      }),
    );
    const modules = Object.fromEntries(entries) as Record<ModuleName, ModuleHealth>;
    const status = entries.some(([, health]) => health.status === 'down') ? 'down' : entries.some(([, health]) => health.status === 'warning') ? 'warning' : 'up';
    return { status, modules };
  }
}

async function checkWithTimeout(indicator: HealthIndicator): Promise<HealthResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<HealthResult>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'down', reason: `health check took longer than ${CHECK_TIMEOUT_MS} ms` }), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([indicator.check(), timeout]);
  } catch (error) {
    return { status: 'down', reason: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
