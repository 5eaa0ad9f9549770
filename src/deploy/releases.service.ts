import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { NotFound } from '../common/errors.js';
import { InjectConfig } from '../config/config.module.js';
import type { DozenConfig } from '../config/config.schema.js';
import { AppsService } from './apps.service.js';
import { AuditService, SYSTEM, type Actor } from './audit.service.js';
import { BuilderService } from './build/builder.service.js';
import { ReleaseEntity } from './deploy.entity.js';
import { DeployConflict } from './deploy.errors.js';
import { InstancesService } from './instances.service.js';
import { ReleaseChanges } from './release-changes.js';

export interface ReleaseView {
  id: string;
  app: string;
  ref: string;
  commit: string | null;
  imageId: string | null;
  status: string;
  error: string | null;
  createdAt: string;
  createdBy: string;
  /** When its image was pruned (`deploy.keepReleases`); it can no longer be rolled back to. */
  imageRemovedAt: string | null;
}

/**
 * Deploys: a release per deploy, built once; when it is ready the app's
 * instances move to it (each agent starts the new container before it stops
 * the old). A rollback moves them to a kept release without a build.
 */
@Injectable()
export class ReleasesService {
  constructor(
    @InjectRepository(ReleaseEntity) private readonly releases: Repository<ReleaseEntity>,
    private readonly apps: AppsService,
    private readonly instances: InstancesService,
    private readonly builder: BuilderService,
    private readonly audit: AuditService,
    private readonly changes: ReleaseChanges,
    @InjectConfig() private readonly config: DozenConfig,
  ) {
    builder.whenReady((app, release) => this.promote(app, release, SYSTEM));
  }

  async deploy(appName: string, ref: string | undefined, actor: Actor): Promise<ReleaseView> {
    const app = await this.apps.row(appName);
    const row: ReleaseEntity = {
      id: 'r' + randomBytes(4).toString('hex'), app: app.name, ref: ref ?? app.defaultRef, commit: null, imageId: null,
      status: 'queued', buildLog: '', error: null, createdAt: Date.now(), createdBy: actor.name, buildHost: this.config.host.name, imageRemovedAt: null, imageArchiveSha256: null,
    };
    await this.releases.insert(row);
    this.changes.changed(app.name);
    await this.audit.record(actor, 'app.deploy', app.name, { release: row.id, ref: row.ref });
    this.builder.enqueue(app.name, row.id);
    return view(row);
  }

  async rollback(appName: string, target: string | undefined, actor: Actor): Promise<ReleaseView> {
    const app = await this.apps.row(appName);
    const ready = await this.releases.find({ where: { app: app.name, status: 'ready' }, order: { createdAt: 'DESC' } });
    // A release whose image was pruned has nothing left to run.
    const kept = (release: ReleaseEntity) => release.imageRemovedAt === null;
    let release: ReleaseEntity | undefined;
    if (target) {
      release = ready.find((candidate) => candidate.id === target && kept(candidate));
      if (!release) throw new DeployConflict('release_not_ready', `release ${target} of ${app.name} is not a ready release with its image kept`, 'release');
    } else {
      const current = ready.findIndex((candidate) => candidate.id === app.release);
      const before = current >= 0 ? ready.slice(current + 1) : [];
      release = before.find(kept);
      if (!release) throw new DeployConflict('no_previous_release', noPreviousRelease(app.name, app.release, before), 'release');
    }
    await this.promote(app.name, release.id, actor);
    await this.audit.record(actor, 'app.rollback', app.name, { release: release.id });
    return view(release);
  }

  async list(app: string): Promise<ReleaseView[]> {
    await this.apps.row(app);
    return (await this.releases.find({ where: { app }, order: { createdAt: 'DESC' } })).map(view);
  }

  async get(id: string): Promise<ReleaseView> {
    return view(await this.row(id));
  }

  async buildLog(id: string): Promise<string> {
    return (await this.row(id)).buildLog;
  }

  async cancel(id: string, actor: Actor): Promise<ReleaseView> {
    const row = await this.row(id);
    if (!(await this.builder.cancel(id))) throw new DeployConflict('not_building', `release ${id} is ${row.status}, not queued or building`);
    await this.audit.record(actor, 'release.cancel', row.app, { release: id });
    return view(await this.row(id));
  }

  follow(id: string, listener: (line: string | null) => void): (() => void) | null {
    return this.builder.follow(id, listener);
  }

  private async promote(app: string, release: string, actor: Actor): Promise<void> {
    // A build that ended after its app was deleted (on another host, say) moves nothing: its release went with the app.
    if (!(await this.releases.existsBy({ id: release, app, status: 'ready' }))) return;
    await this.apps.setRelease(app, release);
    this.changes.changed(app);
    await this.instances.moveTo(app, release, actor);
  }

  private async row(id: string): Promise<ReleaseEntity> {
    const row = await this.releases.findOneBy({ id });
    if (!row) throw new NotFound('release', id);
    return row;
  }
}

/** Why a rollback has nowhere to go: no release yet, none before the current one, or only ones whose images were pruned. */
function noPreviousRelease(app: string, current: string | null, before: ReleaseEntity[]): string {
  if (!current) return `${app} has no ready release yet: there is nothing to roll back to`;
  if (!before.length) return `${app} has no ready release before ${current}`;
  const named = before.slice(0, 5).map((release) => release.id).join(', ') + (before.length > 5 ? `, and ${before.length - 5} more` : '');
  return `${app} has no release to roll back to before ${current}: the ready releases before it (${named}) had their images pruned (deploy.keepReleases)`;
}

function view(row: ReleaseEntity): ReleaseView {
  return {
    id: row.id, app: row.app, ref: row.ref, commit: row.commit, imageId: row.imageId, status: row.status, error: row.error,
    createdAt: new Date(row.createdAt).toISOString(), createdBy: row.createdBy, imageRemovedAt: row.imageRemovedAt === null ? null : new Date(row.imageRemovedAt).toISOString(),
  };
}
