import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Not, type FindOptionsWhere, type Repository } from 'typeorm';
import { NotFound } from '../common/errors.js';
import { RegistryService } from '../registry/registry.service.js';
import { AppsService } from './apps.service.js';
import { AuditService, type Actor } from './audit.service.js';
import { InstanceEntity, type DesiredState } from './deploy.entity.js';
import { DeployConflict } from './deploy.errors.js';
import { specKey, statusKey, type InstanceSpec, type InstanceStatus, type ObservedState } from './desired-state.js';
import { HostsService } from './hosts.service.js';

export interface InstanceView {
  id: string;
  app: string;
  host: string;
  release: string;
  desired: DesiredState;
  generation: number;
  /** What the host's agent last reported; `lost` when the host went silent. */
  state: ObservedState;
  runningRelease: string | null;
  containerId: string | null;
  port: number | null;
  restarts: number;
  lastError: string | null;
  createdAt: string;
}

/**
 * Instances: desired state in the database, published to the catalog under
 * the host's prefix for its agent; the observed state is read back from the
 * agent's reports.
 */
@Injectable()
export class InstancesService {
  constructor(
    @InjectRepository(InstanceEntity) private readonly instances: Repository<InstanceEntity>,
    private readonly apps: AppsService,
    private readonly hosts: HostsService,
    private readonly registry: RegistryService,
    private readonly audit: AuditService,
  ) {}

  async create(appName: string, host: string, actor: Actor): Promise<InstanceView> {
    const app = await this.apps.row(appName);
    if (!(await this.hosts.find(host))) throw new NotFound('host', host);
    if (!app.release) throw new DeployConflict('no_release', `${app.name} has no ready release yet: deploy it first`, 'app');
    const now = Date.now();
    const row: InstanceEntity = { id: 'i' + randomBytes(4).toString('hex'), app: app.name, host, release: app.release, desired: 'running', generation: 1, restartCount: 0, createdAt: now, updatedAt: now };
    await this.instances.insert(row);
    await this.publish(row);
    await this.audit.record(actor, 'instance.create', row.id, { app: row.app, host });
    return this.view(row);
  }

  async list(filter: { app?: string; host?: string }): Promise<InstanceView[]> {
    const where: FindOptionsWhere<InstanceEntity> = { ...(filter.app ? { app: filter.app } : {}), ...(filter.host ? { host: filter.host } : {}) };
    const rows = await this.instances.find({ where, order: { createdAt: 'ASC' } });
    return Promise.all(rows.map((row) => this.view(row)));
  }

  async get(id: string): Promise<InstanceView> {
    return this.view(await this.row(id));
  }

  async row(id: string): Promise<InstanceEntity> {
    const row = await this.instances.findOneBy({ id });
    if (!row) throw new NotFound('instance', id);
    return row;
  }

  async start(id: string, actor: Actor): Promise<InstanceView> {
    return this.change(id, actor, 'instance.start', (row) => (row.desired = 'running'));
  }

  async stop(id: string, actor: Actor): Promise<InstanceView> {
    return this.change(id, actor, 'instance.stop', (row) => (row.desired = 'stopped'));
  }

  /** A new generation: the agent starts a fresh container and retires the old one once the new one is healthy. */
  async restart(id: string, actor: Actor): Promise<InstanceView> {
    return this.change(id, actor, 'instance.restart', (row) => {
      row.desired = 'running';
      row.generation++;
    });
  }

  async remove(id: string, actor: Actor): Promise<void> {
    const row = await this.row(id);
    await this.instances.delete({ id });
    await this.registry.kvDelete(specKey(row.host, id));
    await this.audit.record(actor, 'instance.remove', id, { app: row.app, host: row.host });
  }

  /** Makes the app run `count` instances on `host`: new ones are added, the newest go first. */
  async scale(appName: string, host: string, count: number, actor: Actor): Promise<InstanceView[]> {
    const app = await this.apps.row(appName);
    if (!(await this.hosts.find(host))) throw new NotFound('host', host);
    const current = await this.instances.find({ where: { app: app.name, host, desired: Not('removed') }, order: { createdAt: 'ASC' } });
    for (const row of current.slice(count).reverse()) await this.remove(row.id, actor);
    for (let added = current.length; added < count; added++) await this.create(app.name, host, actor);
    await this.audit.record(actor, 'app.scale', app.name, { host, count });
    return this.list({ app: app.name, host });
  }

  /** A deploy or rollback: every instance of the app runs `release` next. */
  async moveTo(app: string, release: string, actor: Actor): Promise<void> {
    for (const row of await this.instances.findBy({ app })) {
      if (row.release === release) continue;
      row.release = release;
      row.updatedAt = Date.now();
      await this.instances.save(row);
      await this.publish(row);
    }
    await this.audit.record(actor, 'app.release', app, { release });
  }

  /** Removes every instance of an app (before the app is deleted). */
  async removeAll(app: string, actor: Actor): Promise<void> {
    for (const row of await this.instances.findBy({ app })) await this.remove(row.id, actor);
  }

  private async change(id: string, actor: Actor, action: string, apply: (row: InstanceEntity) => void): Promise<InstanceView> {
    const row = await this.row(id);
    apply(row);
    row.updatedAt = Date.now();
    await this.instances.save(row);
    await this.publish(row);
    await this.audit.record(actor, action, id, { app: row.app, host: row.host, generation: row.generation });
    return this.view(row);
  }

  /** The app's domains changed: its instances' specs say so, and their agents register them again with the new ones. */
  async domainsChanged(app: string): Promise<void> {
    for (const row of await this.instances.findBy({ app })) await this.publish(row);
  }

  private async publish(row: InstanceEntity): Promise<void> {
    const domains = (await this.apps.row(row.app).catch(() => null))?.domains ?? [];
    const spec: InstanceSpec = { id: row.id, app: row.app, release: row.release, desired: row.desired, generation: row.generation, domains };
    await this.registry.kvPut(specKey(row.host, row.id), JSON.stringify(spec));
  }

  private async view(row: InstanceEntity): Promise<InstanceView> {
    const entry = await this.registry.kvGet(statusKey(row.id));
    const status = entry ? (JSON.parse(entry.value) as InstanceStatus) : null;
    const host = await this.hosts.find(row.host);
    let reported: ObservedState = status?.state ?? 'pending';
    // The agent still reports the container it is replacing: say so until the new one runs.
    if (reported === 'running' && (status!.release !== row.release || status!.generation !== row.generation)) reported = 'starting';
    return {
      id: row.id, app: row.app, host: row.host, release: row.release, desired: row.desired, generation: row.generation,
      state: host?.state === 'lost' ? 'lost' : reported, runningRelease: status?.release ?? null, containerId: status?.containerId ?? null,
      port: status?.port ?? null, restarts: row.restartCount, lastError: status?.lastError ?? null, createdAt: new Date(row.createdAt).toISOString(),
    };
  }
}
