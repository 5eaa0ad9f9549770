import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { In, IsNull, Not, type Repository } from 'typeorm';
import { InjectLogger } from '../../common/core.module.js';
import { InjectConfig } from '../../config/config.module.js';
import type { DozenConfig } from '../../config/config.schema.js';
import { OBJECT_STORE, ObjectNotFound, type ObjectStore } from '../../storage/object-store.js';
import { DockerClient, LABEL } from '../agent/docker.client.js';
import { AppEntity, InstanceEntity, ReleaseEntity } from '../deploy.entity.js';
import { releasesToPrune } from './prune-plan.js';

/** Where a release's image archive (`docker save`) is kept in the object store. */
export const imageKey = (app: string, release: string) => `images/${app}/${release}.tar`;
/** The tag a release's image carries on every Engine (the archive is saved by it, so a load restores it). */
export const imageTag = (app: string, release: string) => `dozen/${app}:${release}`;
const RELEASE_TAG = /^dozen\/([a-z0-9-]+):(r[0-9a-f]{8})$/;
/** How long an agent waits for the archive of a release the build host is still saving. */
const ARCHIVE_WAIT_MS = 60_000;
const ARCHIVE_POLL_MS = 250;

/** The release's image is neither on this Engine nor loadable as itself. */
export class ImageUnavailable extends Error {}

/**
 * Release images across hosts without an image registry: the build host saves
 * each built image to the object store and records the archive's SHA-256 with
 * the release; an agent whose Engine lacks a release's image fetches the
 * archive, loads it only when its digest is the recorded one (a doctored
 * archive could otherwise re-tag any image on every host), and checks its id. Only the newest
 * `deploy.keepReleases` ready releases of an app keep their images (plus any
 * release in use); older ones leave the store, then every Engine.
 */
@Injectable()
export class ReleaseImages implements OnModuleInit, OnApplicationBootstrap {
  private readonly log: Logger;
  /**
   * Where fetched archives wait for their digest check and `docker load`: `<dataDir>/image-staging` (0700), not
   * the temp dir, which is often a small tmpfs while an archive can be several GB.
   */
  private readonly staging: string;
  private readonly loading = new Map<string, Promise<void>>();
  /** Pruned releases whose image a container here still uses (said once, not at every resync). */
  private readonly keptInUse = new Set<string>();

  constructor(
    @InjectConfig() private readonly config: DozenConfig,
    @InjectLogger() logger: Logger,
    private readonly docker: DockerClient,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @InjectRepository(AppEntity) private readonly apps: Repository<AppEntity>,
    @InjectRepository(ReleaseEntity) private readonly releases: Repository<ReleaseEntity>,
    @InjectRepository(InstanceEntity) private readonly instances: Repository<InstanceEntity>,
  ) {
    this.log = logger.child({ module: 'deploy', part: 'images' });
    this.staging = join(resolve(config.dataDir), 'image-staging');
  }

  /** Drops archives a stop of dozen left in the middle of a load (before this process can have started one). */
  onModuleInit(): void {
    rmSync(this.staging, { recursive: true, force: true });
  }

  /**
   * Saves again, in the background, the archives a stop of dozen cut short: ready releases built
   * on this host whose image is kept but missing from the store, or has no recorded digest (saved
   * by an earlier version, or cut short before the digest was written), and still on this Engine.
   */
  onApplicationBootstrap(): void {
    void this.resumeSaves().catch((error: unknown) => this.log.error({ err: error }, 'cannot check the release image archives'));
  }

  private async resumeSaves(): Promise<void> {
    const built = await this.releases.find({ where: { buildHost: this.config.host.name, status: 'ready', imageRemovedAt: IsNull(), error: IsNull() } });
    for (const release of built) {
      if (!release.imageId || (release.imageArchiveSha256 && (await this.store.head(imageKey(release.app, release.id))))) continue;
      if (!(await this.docker.findImage(release.imageId))) continue;
      this.log.warn({ app: release.app, release: release.id }, 'release image archive missing from the store, or saved without its digest: saving it again');
      await this.save(release.app, release.id, release.imageId);
    }
  }

  /**
   * Tags the built image `dozen/<app>:<release>`, streams `docker save` of it into the store, and records
   * the SHA-256 of exactly the bytes stored with the release; returns the archive's size.
   */
  async save(app: string, release: string, imageId: string): Promise<number> {
    const started = Date.now();
    await this.docker.tagImage(imageId, `dozen/${app}`, release);
    const archive = await this.docker.saveImage(imageTag(app, release));
    const hash = createHash('sha256');
    const hashed = hashing(hash);
    // A store that gives up ends the save stream too (nothing would read it again).
    const stored = this.store.put(imageKey(app, release), hashed, { contentType: 'application/x-tar' }).catch((error: unknown) => {
      hashed.destroy(error as Error);
      throw error;
    });
    const [info] = await Promise.all([stored, pipeline(archive, hashed)]);
    const digest = hash.digest('hex');
    await this.releases.update({ id: release }, { imageArchiveSha256: digest });
    this.log.info({ app, release, bytes: info.size, sha256: digest, ms: Date.now() - started }, 'release image saved');
    return info.size;
  }

  /** Makes sure this Engine has the release's image, loading it from the store when it lacks it; true when it was loaded. */
  async ensure(release: ReleaseEntity): Promise<boolean> {
    if (await this.docker.findImage(release.imageId!)) return false;
    let loading = this.loading.get(release.id);
    if (!loading) {
      loading = this.load(release).finally(() => this.loading.delete(release.id));
      this.loading.set(release.id, loading);
    }
    await loading;
    return true;
  }

  /**
   * Drops the images of the app's ready releases past the newest `deploy.keepReleases` from the
   * store (never the app's current release or one an instance is on), marks those releases, then
   * prunes this Engine. Returns the releases pruned.
   */
  async prune(app: string): Promise<string[]> {
    const row = await this.apps.findOneBy({ name: app });
    if (!row) return [];
    const ready = await this.releases.find({ where: { app, status: 'ready' } });
    const inUse = new Set([row.release, ...(await this.instances.findBy({ app })).map((instance) => instance.release)].filter((id): id is string => Boolean(id)));
    const pruned = releasesToPrune(ready, this.config.deploy.keepReleases, inUse);
    for (const id of pruned) {
      await this.store.delete(imageKey(app, id));
      await this.releases.update({ id }, { imageRemovedAt: Date.now() });
    }
    if (pruned.length) this.log.info({ app, releases: pruned }, 'release images pruned from the store');
    await this.pruneEngine();
    return pruned;
  }

  /**
   * Removes from this Engine the `dozen/<app>:<release>` tags of pruned releases, except those a
   * container here still uses (the Engine itself also refuses to remove an image in use). Run by
   * each agent at every resync, so every host drops them.
   */
  async pruneEngine(): Promise<void> {
    const tags = (await this.docker.imageTags()).flatMap(({ tag }) => {
      const match = RELEASE_TAG.exec(tag);
      return match ? [{ tag, release: match[2] }] : [];
    });
    if (!tags.length) return;
    const pruned = new Set((await this.releases.find({ select: { id: true }, where: { id: In(tags.map((entry) => entry.release)), imageRemovedAt: Not(IsNull()) } })).map((release) => release.id));
    if (!pruned.size) return;
    const used = new Set((await this.docker.managed()).map((container) => container.labels[LABEL.release]));
    for (const { tag, release } of tags) {
      if (!pruned.has(release)) continue;
      if (used.has(release)) {
        if (!this.keptInUse.has(release)) this.log.info({ release, image: tag }, 'pruned release image kept on the Engine while a container uses it');
        this.keptInUse.add(release);
        continue;
      }
      this.keptInUse.delete(release);
      await this.docker.removeImage(tag);
      this.log.info({ release, image: tag }, 'release image removed from the Engine');
    }
  }

  /**
   * The SHA-256 the build host recorded once the release's archive was in the store. It saves the
   * archive while its own instances already move, so the digest is waited for, until the save is
   * reported failed (the release's error) or for ARCHIVE_WAIT_MS at most.
   */
  private async recordedDigest(release: ReleaseEntity, key: string): Promise<string> {
    const deadline = Date.now() + ARCHIVE_WAIT_MS;
    for (;;) {
      const now = await this.releases.findOneBy({ id: release.id });
      if (now?.imageArchiveSha256) return now.imageArchiveSha256;
      if (now?.error || now?.imageRemovedAt || Date.now() > deadline) {
        throw new ImageUnavailable(`the image of release ${release.id} is neither on this host's Docker Engine nor saved to the object store (${key})${now?.error ? `: ${now.error}` : ''}`);
      }
      await sleep(ARCHIVE_POLL_MS);
    }
  }

  /**
   * Fetches the archive into a private file under the staging folder, checks its SHA-256 against the recorded one, and only
   * then hands it to `docker load` (which tags whatever the archive names, on this whole Engine).
   */
  private async load(release: ReleaseEntity): Promise<void> {
    const key = imageKey(release.app, release.id);
    if (release.imageRemovedAt) throw new ImageUnavailable(`the image of release ${release.id} was pruned (deploy.keepReleases) and is not on this host's Docker Engine`);
    const expected = await this.recordedDigest(release, key);
    await mkdir(this.staging, { recursive: true, mode: 0o700 });
    await chmod(this.staging, 0o700);
    const dir = await mkdtemp(join(this.staging, 'load-'));
    try {
      const file = join(dir, 'archive.tar');
      const actual = await this.fetch(key, file);
      if (actual !== expected) {
        throw new ImageUnavailable(`${key} is not the archive saved for release ${release.id}: its SHA-256 is ${actual}, the release recorded ${expected}; not loaded, refusing to run it`);
      }
      this.log.info({ app: release.app, release: release.id, key }, 'loading the release image from the store');
      const loaded = await this.docker.loadImage(createReadStream(file));
      if (await this.docker.findImage(release.imageId!)) return;
      throw new ImageUnavailable(`${key} does not hold release ${release.id}'s image ${release.imageId} (it loaded ${loaded.join(', ') || 'nothing'}): refusing to run it`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Streams the object `key` into `file`; returns the SHA-256 of what was written. */
  private async fetch(key: string, file: string): Promise<string> {
    let body: Readable;
    try {
      body = (await this.store.get(key)).body;
    } catch (error) {
      if (error instanceof ObjectNotFound) throw new ImageUnavailable(`the archive ${key} is missing from the object store`);
      throw error;
    }
    const hash = createHash('sha256');
    await pipeline(body, hashing(hash), createWriteStream(file, { mode: 0o600 }));
    return hash.digest('hex');
  }
}

/** Passes the bytes on unchanged, feeding `hash` with each. */
function hashing(hash: Hash): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
}
