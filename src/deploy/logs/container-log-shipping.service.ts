import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Repository } from 'typeorm';
import { backoffDelay } from '../../common/backoff.js';
import { InjectLogger } from '../../common/core.module.js';
import { Metrics } from '../../common/metrics.js';
import { InjectConfig } from '../../config/config.module.js';
import type { DozenConfig } from '../../config/config.schema.js';
import { LogAppenders } from '../../storage/log-appenders.js';
import { DockerClient, LABEL } from '../agent/docker.client.js';
import { ContainerLogMetrics } from './container-log-metrics.js';
import { ContainerLogSession, type SessionContext } from './container-log-session.js';
import { LogCheckpointEntity } from './log-checkpoint.entity.js';
import { FailureSpell } from '../../common/failure-spell.js';

const SCAN_MS = 2000;
/** How long removing a stopped container waits for its last output to be shipped. */
const SETTLE_MS = 30_000;

interface Running {
  session: ContainerLogSession;
  done: Promise<void>;
}

/**
 * Ships the output of this host's managed containers to the object store
 * (`logs/<app>/<host>/<date>.log`) through the Engine's logs API, so it is
 * kept when the container is gone, and without read access to
 * `/var/lib/docker`. One session per container follows it while it runs and
 * resumes from the saved checkpoint after a restart of dozen or of the
 * container; the agent lets a stopped container's session finish before it
 * removes the container (`settle`).
 */
@Injectable()
export class ContainerLogShipping implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log: Logger;
  private readonly listing: FailureSpell;
  private readonly context: SessionContext;
  private readonly sessions = new Map<string, Running>();
  /** Containers whose output is all shipped, with the start time (`State.StartedAt`) it was for. */
  private readonly drained = new Map<string, string>();
  private ready: Promise<void> | null = null;
  private scanning: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closing = false;

  constructor(
    @InjectConfig() private readonly config: DozenConfig,
    @InjectLogger() logger: Logger,
    private readonly docker: DockerClient,
    private readonly appenders: LogAppenders,
    @InjectRepository(LogCheckpointEntity) private readonly checkpoints: Repository<LogCheckpointEntity>,
    metrics: Metrics,
  ) {
    this.log = logger.child({ module: 'deploy', part: 'container-logs' });
    this.listing = new FailureSpell(this.log, 'cannot list containers for their logs; Docker Engine down?');
    this.context = { docker, appenders, checkpoints, host: config.host.name, flushMs: config.deploy.logs.flushMs, log: this.log, metrics: new ContainerLogMetrics(metrics) };
  }

  onApplicationBootstrap(): void {
    if (!this.config.deploy.logs.ship) return;
    this.ready = this.settlePending();
    void this.ready.then(() => this.scanSoon());
    this.timer = setInterval(() => this.scanSoon(), SCAN_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    for (const { session } of this.sessions.values()) session.stop();
    await this.scanning;
    await Promise.allSettled([...this.sessions.values()].map((running) => running.done));
  }

  /** Waits (up to 30 s) until a stopped container's output is all in the store; the agent calls it before removing the container. */
  async settle(containerId: string): Promise<void> {
    if (!this.ready || this.closing) return;
    const deadline = sleep(SETTLE_MS, 'timeout' as const);
    const settled = (async () => {
      await this.ready;
      let running = this.sessions.get(containerId);
      if (!running) {
        const info = await this.docker.inspect(containerId).catch(() => null);
        if (!info || info.State.Running || this.drained.get(containerId) === info.State.StartedAt) return;
        running = this.start({ id: containerId, app: info.Config.Labels?.[LABEL.app] ?? '', instance: info.Config.Labels?.[LABEL.instance] ?? '' });
      }
      await running.done;
    })();
    if ((await Promise.race([settled, deadline])) === 'timeout') this.log.warn({ container: containerId.slice(0, 12) }, 'container output not all shipped before its removal');
  }

  /**
   * After a crash: a batch recorded as pending either landed (the object is longer, by up to its
   * length) or not. What landed is skipped when the output is read again. Runs before any session,
   * so nothing else has appended to these objects since; retried while the store is down.
   */
  private async settlePending(): Promise<void> {
    for (let failures = 0; !this.closing; ) {
      try {
        for (const row of await this.checkpoints.findBy({ host: this.config.host.name })) {
          if (!row.pendingLength || !row.objectKey) continue;
          const landed = (await this.appenders.length(row.objectKey)) - row.objectPosition;
          if (landed >= 0 && landed <= row.pendingLength) row.skipBytes += landed;
          else this.log.warn({ container: row.containerId.slice(0, 12), key: row.objectKey, expected: row.objectPosition, landed }, 'log object changed outside dozen; not skipping');
          row.pendingLength = 0;
          row.updatedAt = Date.now();
          await this.checkpoints.save(row);
          this.log.info({ container: row.containerId.slice(0, 12), key: row.objectKey, landed: Math.max(0, landed) }, 'settled the container-log batch in flight at the last stop');
        }
        return;
      } catch (error) {
        failures++;
        this.log.warn({ err: error, failures }, 'cannot settle container-log checkpoints; will retry');
        await sleep(backoffDelay(failures, { firstMs: 500, maxMs: 30_000 }));
      }
    }
  }

  private scanSoon(): void {
    if (this.closing) return;
    this.scanning ??= this.scan()
      .then(() => this.listing.succeeded(), (error: unknown) => this.listing.failed(error))
      .finally(() => (this.scanning = null));
  }

  /** Follows every running container of this host, and reads any stopped one to its end once per start. */
  private async scan(): Promise<void> {
    const containers = (await this.docker.managed()).filter((container) => container.labels[LABEL.host] === this.config.host.name);
    for (const container of containers) {
      if (this.closing || this.sessions.has(container.id)) continue;
      if (container.state !== 'running') {
        const info = await this.docker.inspect(container.id).catch(() => null);
        if (!info || this.drained.get(container.id) === info.State.StartedAt) continue;
      }
      this.start({ id: container.id, app: container.labels[LABEL.app], instance: container.labels[LABEL.instance] });
    }
    const present = new Set(containers.map((container) => container.id));
    for (const id of this.drained.keys()) if (!present.has(id)) this.drained.delete(id);
    for (const row of await this.checkpoints.findBy({ host: this.config.host.name })) {
      if (!present.has(row.containerId) && !this.sessions.has(row.containerId) && !row.pendingLength) await this.checkpoints.delete({ containerId: row.containerId });
    }
  }

  private start(container: { id: string; app: string; instance: string }): Running {
    const session = new ContainerLogSession(container, this.context);
    const done = session
      .run()
      .then(async () => {
        const info = await this.docker.inspect(container.id).catch(() => null);
        if (info && !info.State.Running) this.drained.set(container.id, info.State.StartedAt);
      })
      .catch((error: unknown) => this.log.warn({ container: container.id.slice(0, 12), err: error }, 'container log session ended with an error; resuming at the next scan'))
      .finally(() => this.sessions.delete(container.id));
    const running = { session, done };
    this.sessions.set(container.id, running);
    return running;
  }
}
