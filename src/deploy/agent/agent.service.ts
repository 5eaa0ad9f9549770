import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Repository } from 'typeorm';
import { InjectLogger } from '../../common/core.module.js';
import { InjectConfig } from '../../config/config.module.js';
import { Notifier } from '../../notify/notifier.service.js';
import type { DozenConfig } from '../../config/config.schema.js';
import { RegistryService } from '../../registry/registry.service.js';
import { TokensService } from '../../tokens/tokens.service.js';
import { AppEntity, InstanceEntity, ReleaseEntity } from '../deploy.entity.js';
import { hostPrefix, parseSpec, statusKey, type InstanceSpec, type InstanceStatus } from '../desired-state.js';
import { ReleaseImages } from '../images/release-images.js';
import { ContainerLogShipping } from '../logs/container-log-shipping.service.js';
import { SecretsBox } from '../../common/secrets-box.js';
import { followEvents } from './docker-events.js';
import { DockerClient, IMAGE_CLAIMS_MANAGED, LABEL, type ManagedContainer } from './docker.client.js';
import { Failures, type Failure } from './failures.js';
import { waitHealthy } from './health-probe.js';
import { Heartbeats } from './heartbeats.js';
import { instanceContainerName, Launcher, registrationId } from './launcher.js';
import { FailureSpell } from '../../common/failure-spell.js';

/**
 * The deploy agent of this host: follows its desired state in the catalog
 * (`dozen/hosts/<host>/instances/`) and makes the Docker Engine match it, on
 * every change, on Docker events, and every `deploy.resyncSeconds`. One
 * reconcile per instance runs at a time; one requested meanwhile runs after.
 * Reconciling looks up containers by label first, so running it twice
 * changes nothing, and it only ever touches containers labelled
 * `dozen.managed=true` and `dozen.host=<this host>`.
 */
@Injectable()
export class DeployAgent implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log: Logger;
  private readonly host: string;
  private readonly heartbeats: Heartbeats;
  private readonly launcher: Launcher;
  private specs = new Map<string, InstanceSpec>();
  private specsKnown = false;
  private readonly working = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly failures: Failures;
  private readonly written = new Map<string, string>();
  /** Replaced containers finishing what they accepted before they are stopped, by container id. */
  private readonly draining = new Map<string, { name: string; done: Promise<void> }>();
  private readonly stops: (() => void)[] = [];
  private closing = false;
  private readonly listing: FailureSpell;
  private readonly pruning: FailureSpell;

  constructor(
    @InjectConfig() private readonly config: DozenConfig,
    @InjectLogger() logger: Logger,
    private readonly registry: RegistryService,
    private readonly tokens: TokensService,
    private readonly docker: DockerClient,
    private readonly images: ReleaseImages,
    private readonly containerLogs: ContainerLogShipping,
    secrets: SecretsBox,
    @InjectRepository(AppEntity) private readonly apps: Repository<AppEntity>,
    @InjectRepository(ReleaseEntity) private readonly releases: Repository<ReleaseEntity>,
    @InjectRepository(InstanceEntity) instances: Repository<InstanceEntity>,
    private readonly notifier: Notifier,
  ) {
    this.log = logger.child({ module: 'deploy', part: 'agent' });
    this.listing = new FailureSpell(this.log, 'cannot list containers; Docker Engine down?');
    this.pruning = new FailureSpell(this.log, 'cannot prune release images');
    this.host = config.host.name;
    this.heartbeats = new Heartbeats(registry, docker, this.log);
    this.launcher = new Launcher(config, docker, tokens, secrets);
    this.failures = new Failures(instances, registry);
  }

  onApplicationBootstrap(): void {
    this.stops.push(
      this.registry.watchKv(hostPrefix(this.host), (entries) => {
        const specs = new Map<string, InstanceSpec>();
        for (const entry of entries) {
          const spec = parseSpec(entry.value);
          if (spec) specs.set(spec.id, spec);
        }
        this.specs = specs;
        this.specsKnown = true;
        void this.reconcileAll();
      }),
    );
    this.stops.push(followEvents(this.docker, (instance, action) => {
      this.log.info({ instance, action }, 'docker event');
      this.schedule(instance);
    }, this.log));
    const resync = setInterval(() => void this.reconcileAll(), this.config.deploy.resyncSeconds * 1000);
    resync.unref();
    this.stops.push(() => clearInterval(resync));
    this.heartbeats.start();
    this.stops.push(() => this.heartbeats.stop());
  }

  /** Containers keep running while dozen restarts; their registrations outlive it by their TTL and are renewed on the next start. */
  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    for (const stop of this.stops) stop();
    await Promise.allSettled([...this.working.values(), ...[...this.draining.values()].map((entry) => entry.done)]);
  }

  /** Every instance with a spec, and every container of this host that has none (an instance removed while the agent was down). */
  private async reconcileAll(): Promise<void> {
    if (!this.specsKnown || this.closing) return;
    const instances = new Set(this.specs.keys());
    try {
      for (const container of await this.docker.managed()) {
        if (container.labels[LABEL.host] === this.host) instances.add(container.labels[LABEL.instance]);
      }
      this.listing.succeeded();
    } catch (error) {
      this.listing.failed(error);
    }
    for (const instance of instances) this.schedule(instance);
    await this.images.pruneEngine().then(() => this.pruning.succeeded(), (error: unknown) => this.pruning.failed(error));
  }

  private schedule(instance: string): void {
    if (this.closing || !this.specsKnown) return;
    if (this.working.has(instance)) {
      this.again.add(instance);
      return;
    }
    this.log.debug({ instance }, 'reconcile');
    const job = this.reconcile(instance)
      .catch((error: unknown) => {
        this.log.error({ err: error, instance }, 'reconcile failed');
        return this.writeStatus(instance, { state: 'pending', lastError: (error as Error).message });
      })
      .catch(() => undefined)
      .finally(() => {
        this.log.debug({ instance }, 'reconciled');
        this.working.delete(instance);
        if (this.again.delete(instance)) this.schedule(instance);
      });
    this.working.set(instance, job);
  }

  private async reconcile(instance: string): Promise<void> {
    const spec = this.specs.get(instance);
    if (spec) await this.failures.load(instance);
    const containers = await this.containersOf(instance);
    if (!spec || spec.desired !== 'running') {
      await this.retireAll(instance, containers, false);
      if (spec?.desired === 'stopped') await this.writeStatus(instance, { state: 'stopped', containerId: null, port: null });
      else await this.forget(instance);
      return;
    }
    const isCurrent = (container: ManagedContainer) => container.labels[LABEL.release] === spec.release && Number(container.labels[LABEL.generation]) === spec.generation;
    const current = containers.find((container) => isCurrent(container) && container.state === 'running');
    if (current) {
      const id = registrationId(instance, spec.release, spec.generation);
      // Registered again when the app's domains changed (the spec says so at once, a resync in any case).
      const domains = (await this.apps.findOneBy({ name: spec.app }))?.domains ?? [];
      const registered = this.heartbeats.domainsOf(id);
      let problem: string | null = null;
      if (!sameDomains(registered, domains)) {
        try {
          await this.register(spec, current.id, Number(current.labels[LABEL.port]), domains);
        } catch (error) {
          // Still serving under its old domains (a domain moving here from another app that still has it, say): retried at the next resync.
          if (registered === undefined) throw error;
          problem = `not registered with the app's domains yet: ${(error as Error).message}`;
        }
      }
      await this.retireAll(instance, containers.filter((container) => container !== current), true);
      await this.writeStatus(instance, { state: 'running', release: spec.release, generation: spec.generation, containerId: current.id, port: Number(current.labels[LABEL.port]), lastError: problem ?? (this.failures.peek(instance)?.error || null) });
      return;
    }
    const dead = containers.find((container) => isCurrent(container));
    // Made but never started (dozen stopped between create and start): not a crash.
    if (dead?.state === 'created') await this.retire(dead);
    else if (dead && !(await this.handleCrash(instance, dead))) return;
    if (!this.mayStart(instance)) return;
    await this.start(spec, containers.filter((container) => container !== dead && container.state === 'running'));
  }

  /**
   * This host's containers of an instance. The Engine's list can still say `running` right after
   * a `die` event (it is a snapshot updated after the event), so each state is read by inspect.
   */
  private async containersOf(instance: string): Promise<ManagedContainer[]> {
    const listed = (await this.docker.managed(instance)).filter((container) => container.labels[LABEL.host] === this.host && !this.draining.has(container.id));
    const containers: ManagedContainer[] = [];
    for (const container of listed) {
      const state = await this.docker.inspect(container.id).then((info) => info.State.Status, () => null);
      if (state) containers.push({ ...container, state });
    }
    return containers;
  }

  /** A container of the current spec that stopped by itself: counted once, shown `crashed`, restarted after a backoff. Returns true when it may be replaced now. */
  private async handleCrash(instance: string, dead: ManagedContainer): Promise<boolean> {
    await this.heartbeats.deregister(registrationId(instance, dead.labels[LABEL.release], dead.labels[LABEL.generation]));
    if (this.failures.peek(instance)?.seen !== dead.id) {
      const info = await this.docker.inspect(dead.id);
      const lines = await this.docker.logs(dead.id, 20).catch(() => '');
      const failure = await this.failures.count(instance, dead.id, `exited with code ${info.State.ExitCode}${info.State.OOMKilled ? ' (out of memory)' : ''}${lines ? `; last lines:\n${lines.trimEnd()}` : ''}`);
      await this.writeStatus(instance, { state: 'crashed', containerId: dead.id, lastError: failure.error });
      this.tellCrash(dead.labels[LABEL.app], instance, dead.id, info.State.ExitCode, failure);
    }
    if (!this.mayStart(instance)) return false;
    await this.retire(dead);
    return true;
  }

  /** False (and a reconcile planned for later) while a backoff runs. */
  private mayStart(instance: string): boolean {
    const failure = this.failures.peek(instance);
    const wait = failure ? failure.retryAt - Date.now() : 0;
    if (wait <= 0) return true;
    setTimeout(() => this.schedule(instance), wait).unref();
    return false;
  }

  /** Starts the spec's container; once healthy it is registered and the old ones leave (deregistered, drained, stopped). */
  private async start(spec: InstanceSpec, old: ManagedContainer[]): Promise<void> {
    const app = await this.apps.findOneBy({ name: spec.app });
    const release = await this.releases.findOneBy({ id: spec.release });
    if (!app || !release) return this.writeStatus(spec.id, { state: 'pending', lastError: `app ${spec.app} or release ${spec.release} not found` });
    // A spec is only as trustworthy as whoever can write the catalog: another app's image would run with this app's env, secrets and domains.
    if (release.app !== app.name) return this.writeStatus(spec.id, { state: 'pending', lastError: `release ${release.id} is of app ${release.app}, not ${app.name}: refusing to run it` });
    if (release.status !== 'ready' || !release.imageId) return this.writeStatus(spec.id, { state: release.status === 'failed' ? 'pending' : 'building', release: spec.release, lastError: release.status === 'failed' ? `release ${release.id} failed to build` : null });
    // An Engine without the release's image (another host built it, or it was removed) loads it from the object store.
    if (await this.images.ensure(release)) this.log.info({ app: spec.app, release: spec.release, image: release.imageId }, 'release image loaded from the store');
    // A release built before images were checked for it: its containers would not pass for dozen's.
    if (await this.docker.imageClaimsManaged(release.imageId)) return this.writeStatus(spec.id, { state: 'pending', lastError: `release ${release.id}: ${IMAGE_CLAIMS_MANAGED}; refusing to run it` });
    const name = instanceContainerName(spec);
    // A rollback within a drain: the container still draining holds this name until it is removed.
    for (const entry of this.draining.values()) if (entry.name === name) await entry.done;
    if (app.port !== null) {
      // One port cannot have two listeners: a fixed-port app's old container goes first (a short gap instead of none).
      const holding = old.filter((container) => Number(container.labels[LABEL.port]) === app.port);
      await this.retireAll(spec.id, holding, false);
      old = old.filter((container) => !holding.includes(container));
    }
    for (const container of old) {
      // A restart of the same release: the old container gives its name to the new one.
      if (container.name === name) await this.docker.rename(container.id, `${name}-g${container.labels[LABEL.generation]}`);
    }
    await this.writeStatus(spec.id, { state: 'starting', release: spec.release, generation: spec.generation });
    const launched = await this.launcher.launch(spec, app, release);
    this.log.info({ app: spec.app, instance: spec.id, release: spec.release, container: launched.containerId, port: launched.port }, 'container started');
    const alive = async () => (await this.docker.inspect(launched.containerId)).State.Running;
    // An answer counts only while the container still runs: a container that could not listen has exited, and the answer came from something else.
    const healthy = (await waitHealthy(launched.port, app.healthPath, this.config.deploy.healthTimeoutSeconds * 1000, alive)) && (await alive());
    if (!healthy) {
      // waitHealthy gives up as soon as the container stops: then it crashed, however little of the timeout passed.
      const { State: ended } = await this.docker.inspect(launched.containerId);
      const lines = await this.docker.logs(launched.containerId, 20).catch(() => '');
      const lastLines = lines ? `; last lines:\n${lines.trimEnd()}` : '';
      const why = ended.Running
        ? `${app.healthPath} on port ${launched.port} did not answer 2xx-3xx within ${this.config.deploy.healthTimeoutSeconds} s`
        : `exited with code ${ended.ExitCode}${ended.OOMKilled ? ' (out of memory)' : ''} before answering ${app.healthPath} on port ${launched.port}`;
      const failure = await this.failures.count(spec.id, launched.containerId, `${why}${lastLines}`);
      await this.retire({ id: launched.containerId, name: launched.name, state: 'running', labels: {} });
      await this.writeStatus(spec.id, { state: ended.Running ? 'unhealthy' : 'crashed', containerId: null, port: null, lastError: failure.error });
      if (!ended.Running) this.tellCrash(spec.app, spec.id, launched.containerId, ended.ExitCode, failure);
      this.mayStart(spec.id);
      return;
    }
    await this.register(spec, launched.containerId, launched.port, app.domains);
    await this.retireAll(spec.id, old, true);
    await this.writeStatus(spec.id, { state: 'running', release: spec.release, generation: spec.generation, containerId: launched.containerId, port: launched.port, lastError: this.failures.peek(spec.id)?.error || null });
  }

  /** A crash in the log and to the notify channels (one message per instance per quiet window, notify.quietSeconds, however fast it crash-loops). */
  private tellCrash(app: string, instance: string, container: string, exitCode: number, failure: Failure): void {
    this.log.warn({ instance, container, exitCode, restarts: failure.restarts }, 'container crashed');
    this.notifier.notify({ kind: 'instance.crashed', subject: instance, message: `${app}: ${failure.error.split('\n')[0]}`, detail: { app, exitCode, restarts: failure.restarts } });
  }

  /** Registers the container under the app's `domains`, as the caller just read them. */
  private async register(spec: InstanceSpec, containerId: string, port: number, domains: string[]): Promise<void> {
    await this.heartbeats.register({
      id: registrationId(spec.id, spec.release, spec.generation), instance: spec.id, containerId, app: spec.app,
      address: this.config.host.address, port, host: this.host, domains, release: spec.release, meta: { container: containerId.slice(0, 12) },
    });
    this.log.info({ app: spec.app, instance: spec.id, release: spec.release, port }, 'instance registered');
  }

  /** Deregisters the containers, waits `deploy.drainSeconds` (in the background) when `drain` and one of them was serving, then stops and removes them. */
  private async retireAll(instance: string, containers: ManagedContainer[], drain: boolean): Promise<void> {
    if (!containers.length) {
      for (const id of this.heartbeats.ofInstance(instance)) if (!drain) await this.heartbeats.deregister(id);
      return;
    }
    for (const container of containers) await this.heartbeats.deregister(registrationId(instance, container.labels[LABEL.release], container.labels[LABEL.generation]));
    if (!drain || !containers.some((container) => container.state === 'running')) {
      for (const container of containers) await this.retire(container);
      return;
    }
    // Drained apart from the instance's reconcile, so a newer spec (a deploy right after this one) does not wait for it.
    for (const container of containers) {
      if (this.draining.has(container.id)) continue;
      const done = sleep(this.config.deploy.drainSeconds * 1000)
        .then(() => this.retire(container))
        .catch((error: unknown) => this.log.error({ err: error, instance, container: container.id }, 'cannot remove a drained container'))
        .finally(() => this.draining.delete(container.id));
      this.draining.set(container.id, { name: container.name, done });
    }
  }

  private async retire(container: ManagedContainer): Promise<void> {
    const labels = container.labels[LABEL.token] ? container.labels : (await this.docker.inspect(container.id)).Config.Labels ?? {};
    await this.docker.stop(container.id, 10);
    await this.containerLogs.settle(container.id);
    await this.docker.remove(container.id);
    if (labels[LABEL.token]) await this.tokens.revoke(labels[LABEL.token]).catch(() => undefined);
    this.log.info({ instance: labels[LABEL.instance], container: container.id }, 'container removed');
  }

  private async forget(instance: string): Promise<void> {
    this.failures.forget(instance);
    if (this.written.delete(instance)) await this.registry.kvDelete(statusKey(instance));
  }

  /** Writes `dozen/status/<instance>` when it changed (an unchanged write would wake every watcher). */
  private async writeStatus(instance: string, change: Partial<InstanceStatus>): Promise<void> {
    const previous = this.written.get(instance);
    const base: InstanceStatus = previous ? (JSON.parse(previous) as InstanceStatus) : { state: 'pending', host: this.host, release: null, generation: 0, containerId: null, port: null, restarts: 0, lastError: null, at: 0 };
    const next: InstanceStatus = { ...base, ...change, restarts: this.failures.peek(instance)?.restarts ?? 0, at: 0 };
    const text = JSON.stringify(next);
    if (text === previous) return;
    this.written.set(instance, text);
    await this.registry.kvPut(statusKey(instance), JSON.stringify({ ...next, at: Date.now() }));
  }
}

function sameDomains(registered: string[] | undefined, domains: string[]): boolean {
  return registered !== undefined && registered.length === domains.length && registered.every((domain, index) => domain === domains[index]);
}
