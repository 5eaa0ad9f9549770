import type { Repository } from 'typeorm';
import type { RegistryService } from '../../registry/registry.service.js';
import type { InstanceEntity } from '../deploy.entity.js';
import { statusKey, type InstanceStatus } from '../desired-state.js';

/** Restart backoff after a crash or a failed start: 1 s doubling to 60 s, with jitter. */
export function backoffMs(failures: number): number {
  const base = Math.min(1000 * 2 ** Math.max(failures - 1, 0), 60_000);
  return Math.round(base * (0.75 + Math.random() / 2));
}

export interface Failure {
  restarts: number;
  retryAt: number;
  /** The container (or failed start) already counted, so a resync does not count it twice. */
  seen: string;
  error: string;
}

/**
 * The crashes and failed starts of this host's instances. The count is kept
 * in the instance's row (`restart_count`), and what was last counted in the
 * agent's own status report, so a restarted dozen goes on counting from
 * there and does not count a dead container twice.
 */
export class Failures {
  private readonly known = new Map<string, Failure>();

  constructor(
    private readonly instances: Repository<InstanceEntity>,
    private readonly registry: RegistryService,
  ) {}

  /** The failure record of an instance, if it has one (no I/O). */
  peek(instance: string): Failure | undefined {
    return this.known.get(instance);
  }

  /** Loads what a previous run of dozen counted, once per instance. */
  async load(instance: string): Promise<void> {
    if (this.known.has(instance)) return;
    const row = await this.instances.findOneBy({ id: instance });
    const entry = await this.registry.kvGet(statusKey(instance));
    const status = entry ? (JSON.parse(entry.value) as InstanceStatus) : null;
    if (!row?.restartCount && !status?.lastError) return;
    this.known.set(instance, {
      restarts: row?.restartCount ?? 0,
      retryAt: 0,
      seen: status?.state === 'crashed' ? (status.containerId ?? '') : '',
      error: status?.lastError ?? '',
    });
  }

  /** Counts one more failure (crashed container or failed start `seen`) and plans the next try after a backoff. */
  async count(instance: string, seen: string, error: string): Promise<Failure> {
    const failure = this.known.get(instance) ?? { restarts: 0, retryAt: 0, seen: '', error: '' };
    failure.restarts++;
    failure.retryAt = Date.now() + backoffMs(failure.restarts);
    failure.seen = seen;
    failure.error = error;
    this.known.set(instance, failure);
    await this.instances.update({ id: instance }, { restartCount: failure.restarts });
    return failure;
  }

  forget(instance: string): void {
    this.known.delete(instance);
  }
}
