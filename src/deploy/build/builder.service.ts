import { mkdirSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { In, type Repository } from 'typeorm';
import { InjectLogger } from '../../common/core.module.js';
import { InjectConfig } from '../../config/config.module.js';
import { Notifier } from '../../notify/notifier.service.js';
import type { DozenConfig } from '../../config/config.schema.js';
import { DockerClient, IMAGE_CLAIMS_MANAGED } from '../agent/docker.client.js';
import { AppEntity, ReleaseEntity } from '../deploy.entity.js';
import { imageKey, ReleaseImages } from '../images/release-images.js';
import { SecretsBox } from '../../common/secrets-box.js';
import { checkout } from './git.js';
import { redactUrlCredentials } from '../../common/url-credentials.js';
import { gitAuth, gitSecretNames } from './git-credentials.js';
import { hasRegularFile } from './checkout-files.js';
import { templateDockerfile } from './runtime-template.js';
import { BuildLog } from './build-log.js';
import { ReleaseChanges } from '../release-changes.js';

const LOG_FLUSH_MS = 1000;

interface Job {
  release: string;
  cancel: AbortController;
  /** Settles when the build ended and its release was saved. */
  ended?: Promise<void>;
}

/**
 * Builds releases on this host, one per app at a time: a deploy while one
 * builds waits, and a newer deploy replaces a waiting one (which ends
 * `cancelled`). A build clones the ref, uses the app's Dockerfile or the
 * runtime template, and builds through the Engine's build API with its log
 * kept on the release; it fails past `deploy.buildTimeoutSeconds`.
 */
@Injectable()
export class BuilderService implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly log: Logger;
  /**
   * The builds' checkouts: `<dataDir>/builds` (0700), not the temp dir, so that what a kill of dozen
   * leaves there (an app's source code) is found and removed at the next start.
   */
  private readonly checkouts: string;
  private readonly running = new Map<string, Job>();
  private readonly waiting = new Map<string, Job>();
  private readonly listeners = new Map<string, Set<(line: string | null) => void>>();
  private readyListener: (app: string, release: string) => Promise<void> = async () => undefined;

  constructor(
    @InjectConfig() private readonly config: DozenConfig,
    @InjectLogger() logger: Logger,
    private readonly docker: DockerClient,
    private readonly images: ReleaseImages,
    @InjectRepository(AppEntity) private readonly apps: Repository<AppEntity>,
    @InjectRepository(ReleaseEntity) private readonly releases: Repository<ReleaseEntity>,
    private readonly secretsBox: SecretsBox,
    private readonly notifier: Notifier,
    private readonly changes: ReleaseChanges,
  ) {
    this.log = logger.child({ module: 'deploy', part: 'builder' });
    this.checkouts = join(resolve(config.dataDir), 'builds');
  }

  /** Drops the checkouts of builds a stop of dozen cut short (before this process can have started one). */
  onModuleInit(): void {
    rmSync(this.checkouts, { recursive: true, force: true });
  }

  /** Builds of this host that a stop of dozen cut short can never finish: say so instead of `building` forever. */
  async onApplicationBootstrap(): Promise<void> {
    const cut = await this.releases.find({ where: { buildHost: this.config.host.name, status: In(['queued', 'building']) } });
    for (const release of cut) await this.finish(release.app, release.id, { status: 'failed', error: 'dozen stopped on the build host during the build; deploy again' });
  }

  onModuleDestroy(): void {
    for (const job of [...this.running.values(), ...this.waiting.values()]) job.cancel.abort(new Error('dozen is stopping'));
  }

  /** Called when a release is built (the deploy then moves the app's instances to it). */
  whenReady(listener: (app: string, release: string) => Promise<void>): void {
    this.readyListener = listener;
  }

  /** Queues the build of a `queued` release. */
  enqueue(app: string, release: string): void {
    const job: Job = { release, cancel: new AbortController() };
    if (!this.running.has(app)) return this.start(app, job);
    const superseded = this.waiting.get(app);
    this.waiting.set(app, job);
    if (superseded) void this.finish(app, superseded.release, { status: 'cancelled', error: `superseded by release ${release}` });
  }

  /** Cancels a queued or running build and resolves once its release says `cancelled`; false when it is neither. */
  async cancel(release: string): Promise<boolean> {
    for (const [app, job] of this.waiting) {
      if (job.release === release) {
        this.waiting.delete(app);
        await this.finish(app, release, { status: 'cancelled', error: 'cancelled' });
        return true;
      }
    }
    for (const job of this.running.values()) {
      if (job.release === release) {
        job.cancel.abort(new Error('cancelled'));
        await job.ended;
        return true;
      }
    }
    return false;
  }

  /** The app is deleted: its queued build is dropped and its running one aborted (their releases went with the app). */
  forget(app: string): void {
    this.waiting.get(app)?.cancel.abort(new Error(`app ${app} was deleted`));
    this.waiting.delete(app);
    this.running.get(app)?.cancel.abort(new Error(`app ${app} was deleted`));
  }

  /** Follows a build log as it is written: `null` when the build ended. Returns the unsubscribe. */
  follow(release: string, listener: (line: string | null) => void): (() => void) | null {
    if (![...this.running.values()].some((job) => job.release === release)) return null;
    let set = this.listeners.get(release);
    if (!set) this.listeners.set(release, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  private start(app: string, job: Job): void {
    this.running.set(app, job);
    job.ended = this.run(app, job);
  }

  private async run(app: string, job: Job): Promise<void> {
    const timeout = AbortSignal.timeout(this.config.deploy.buildTimeoutSeconds * 1000);
    const signal = AbortSignal.any([job.cancel.signal, timeout]);
    const log = new BuildLog();
    const append = (line: string) => {
      log.append(line);
      for (const listener of this.listeners.get(job.release) ?? []) listener(line);
    };
    const flush = setInterval(() => {
      if (log.unsaved) void this.releases.update({ id: job.release }, { buildLog: log.text() }).catch(() => undefined);
    }, LOG_FLUSH_MS);
    let dir: string | null = null;
    /** Said again after a failure: the steps had no network, which an `npm install` needs. */
    let offline: string | null = null;
    try {
      const row = await this.apps.findOneByOrFail({ name: app });
      const release = await this.releases.findOneByOrFail({ id: job.release });
      await this.releases.update({ id: job.release }, { status: 'building' });
      this.changes.changed(app);
      let imageId: string;
      if (row.runtime === 'image') {
        append(`using image ${row.image}`);
        imageId = await this.docker.imageId(row.image!);
      } else {
        mkdirSync(this.checkouts, { recursive: true, mode: 0o700 });
        dir = await mkdtemp(join(this.checkouts, `${job.release}-`));
        const auth = gitAuth(row.repository!, this.gitSecrets(row), resolve(this.config.dataDir, 'deploy-known-hosts'));
        const withheld = auth.withheld.length ? ` (not sending the app's secrets ${auth.withheld.join(', ')} over plain http://)` : '';
        append(`fetching ${release.ref} from ${redactUrlCredentials(row.repository!)}${auth.using.length ? ` with the app's secrets ${auth.using.join(', ')}` : ''}${withheld}`);
        const { commit, submodules } = await checkout(row.repository!, release.ref, dir, signal, { auth, caFile: this.config.deploy.git.caFile, allowFile: this.config.deploy.git.allowFile }).finally(() => auth.cleanup());
        await this.releases.update({ id: job.release }, { commit });
        this.changes.changed(app);
        append(`commit ${commit}`);
        if (submodules.length) append(`submodules ${submodules.join(', ')}`);
        if (await hasRegularFile(dir, 'Dockerfile')) {
          append('using the repository Dockerfile');
        } else {
          const { baseImage } = this.config.deploy.runtimes[row.runtime];
          // `wx`: created, never written through whatever the repository put under that name.
          await writeFile(join(dir, 'Dockerfile'), await templateDockerfile(row.runtime, dir, baseImage), { flag: 'wx' });
          append(`using the ${row.runtime} template on ${baseImage}`);
        }
        const network = this.config.deploy.containers.buildNetwork;
        if (network === 'default' && !(await this.docker.hasBridgeNetwork())) {
          offline = "note: this Engine has no bridge network (dockerd --bridge=none), so the build's steps have no network; set deploy.containers.buildNetwork: host if they need one (see docs/deploy.md, Confinement)";
          append(offline);
        }
        imageId = await this.docker.build(dir, `dozen/${app}:${job.release}`, { 'dozen.app': app, 'dozen.release': job.release }, { memoryMb: this.config.deploy.containers.buildMemoryMb, network }, append, signal);
      }
      if (await this.docker.imageClaimsManaged(imageId)) throw new Error(IMAGE_CLAIMS_MANAGED);
      append(`image ${imageId}`);
      await this.finish(app, job.release, { status: 'ready', imageId, buildLog: log.text() });
      this.log.info({ app, release: job.release, image: imageId }, 'release built');
      // Saved while this host's instances move (they need no archive); agents elsewhere wait for it (ReleaseImages.ensure).
      const saved = this.images.save(app, job.release, imageId).then(
        (bytes) => append(`image saved to the object store as ${imageKey(app, job.release)} (${(bytes / 1048576).toFixed(1)} MB)`),
        async (error: unknown) => {
          const message = `image not saved to the object store: ${(error as Error).message}`;
          append(`error: ${message}`);
          this.log.error({ err: error, app, release: job.release }, 'cannot save the release image');
          await this.finish(app, job.release, { error: message.slice(0, 1024) });
        },
      );
      this.notifier.notify({ kind: 'deploy.succeeded', subject: app, message: `release ${job.release} built; its instances move to it`, detail: { release: job.release } });
      await this.readyListener(app, job.release).catch((error: unknown) => this.log.error({ err: error, app, release: job.release }, 'cannot move the instances to the new release'));
      await saved;
      await this.finish(app, job.release, { buildLog: log.text() });
      if ((await this.images.prune(app).catch((error: unknown) => this.log.error({ err: error, app }, 'cannot prune old release images')))?.length) this.changes.changed(app);
    } catch (error) {
      // Which signal fired says why: git and the Engine only report that they were aborted.
      const message = job.cancel.signal.aborted ? String((job.cancel.signal.reason as Error)?.message ?? 'cancelled') : timeout.aborted ? `build timed out after ${this.config.deploy.buildTimeoutSeconds} s` : (error as Error).message;
      // Said again where a failure's tail shows it (a cancel is no failure); the error stays the last line.
      if (offline && !job.cancel.signal.aborted) append(offline);
      append(`error: ${message}`);
      const tail = log.lastLines(15).join('\n');
      await this.finish(app, job.release, { status: job.cancel.signal.aborted ? 'cancelled' : 'failed', error: tail.slice(-1024), buildLog: log.text() });
      this.log.warn({ app, release: job.release, err: error }, 'release build failed');
      if (!job.cancel.signal.aborted) this.notifier.notify({ kind: 'deploy.failed', subject: app, message: `release ${job.release}: ${message}`, detail: { release: job.release } });
    } finally {
      clearInterval(flush);
      for (const listener of this.listeners.get(job.release) ?? []) listener(null);
      this.listeners.delete(job.release);
      this.running.delete(app);
      const next = this.waiting.get(app);
      this.waiting.delete(app);
      if (next) this.start(app, next);
      // Off the event loop: a checkout can hold many files.
      if (dir) await rm(dir, { recursive: true, force: true }).catch((error: unknown) => this.log.warn({ err: error, dir }, 'cannot remove the build checkout'));
    }
  }

  /** Only the app's git credentials are opened for a build. */
  private gitSecrets(app: AppEntity): Record<string, string> {
    return Object.fromEntries(gitSecretNames(app.secrets).map((name) => [name, this.secretsBox.open(app.secrets[name])]));
  }

  /** Saves a change of a release and tells the live views. */
  private async finish(app: string, release: string, change: Partial<ReleaseEntity>): Promise<void> {
    await this.releases.update({ id: release }, change).catch((error: unknown) => this.log.error({ err: error, release }, 'cannot save the release'));
    this.changes.changed(app);
  }
}
