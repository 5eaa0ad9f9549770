import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { BadInput, NotFound } from '../common/errors.js';
import { redactUrlCredentials } from '../common/url-credentials.js';
import { InjectConfig } from '../config/config.module.js';
import type { DozenConfig } from '../config/config.schema.js';
import { ProxyPolicyService } from '../proxy/proxy-policy.service.js';
import { AuditService, type Actor } from './audit.service.js';
import { credentialsDestination, gitSecretNames } from './build/git-credentials.js';
import { FILE_REPOSITORIES_OFF, isFileUrl } from './build/git.js';
import { fixedPortProblem } from './agent/ports.js';
import { AppEntity, ReleaseEntity } from './deploy.entity.js';
import { BuilderService } from './build/builder.service.js';
import { DeployConflict, NeedsSecretsPermission } from './deploy.errors.js';
import { codeChoosingEnv } from './code-env.js';
import type { CreateAppInput, UpdateAppInput } from './dto/deploy.dto.js';
import { WebhookEntity } from './webhooks/webhook.entity.js';
import { SecretsBox } from '../common/secrets-box.js';

/** An app as every API shows it: secret names only, never their values. */
export interface AppView {
  name: string;
  repository: string | null;
  defaultRef: string;
  runtime: string;
  image: string | null;
  port: number | null;
  healthPath: string;
  env: Record<string, string>;
  secrets: string[];
  domains: string[];
  release: string | null;
  memoryMb: number | null;
  cpus: number | null;
  /** The balancer and auth policy live in the proxy; this is where to read or change them. */
  policy: string;
  createdAt: string;
  updatedAt: string;
}

/** Apps: their settings, domains, env and (sealed) secrets. */
@Injectable()
export class AppsService {
  constructor(
    @InjectRepository(AppEntity) private readonly apps: Repository<AppEntity>,
    private readonly audit: AuditService,
    private readonly secretsBox: SecretsBox,
    private readonly modules: ModuleRef,
    @InjectConfig() private readonly config: DozenConfig,
  ) {}

  async create(input: CreateAppInput, actor: Actor): Promise<AppView> {
    // deploy.write makes apps; what goes into their secrets is deploy.secrets' (admins'), as PUT .../secrets is.
    if (Object.keys(input.secrets).length && !actor.managesSecrets) throw new NeedsSecretsPermission(actor.name, 'create an app with secrets (create it without, then have them set)', 'secrets');
    this.assertMaySetEnv(input.name, input.env, actor);
    this.assertFetchable(input.repository);
    this.assertPortAllowed(input.port);
    if (await this.apps.existsBy({ name: input.name })) throw new DeployConflict('app_exists', `app ${JSON.stringify(input.name)} exists already`, 'name');
    for (const domain of input.domains) await this.assertDomainFree(domain, input.name);
    const now = Date.now();
    const { secrets, cpus, ...fields } = input;
    const row: AppEntity = {
      ...fields, domains: [...new Set(input.domains)], release: null, cpuMillis: cpus === null ? null : Math.round(cpus * 1000),
      secrets: Object.fromEntries(Object.entries(secrets).map(([name, value]) => [name, this.secretsBox.seal(value)])), createdAt: now, updatedAt: now,
    };
    await this.apps.insert(row);
    await this.audit.record(actor, 'app.create', input.name, { repository: input.repository, runtime: input.runtime, domains: row.domains });
    return view(row);
  }

  async list(): Promise<AppView[]> {
    return (await this.apps.find({ order: { name: 'ASC' } })).map(view);
  }

  async get(name: string): Promise<AppView> {
    return view(await this.row(name));
  }

  async row(name: string): Promise<AppEntity> {
    const row = await this.apps.findOneBy({ name });
    if (!row) throw new NotFound('app', name);
    return row;
  }

  async update(name: string, input: UpdateAppInput, actor: Actor): Promise<AppView> {
    const row = await this.row(name);
    if (input.repository !== undefined) this.assertFetchable(input.repository);
    if (input.port !== undefined) this.assertPortAllowed(input.port);
    const credentials = gitSecretNames(row.secrets);
    const moved = input.repository !== undefined && credentialsDestination(input.repository) !== credentialsDestination(row.repository);
    // The build hands the git credentials to the repository's host: choosing another host is choosing who gets them.
    if (moved && credentials.length && !actor.managesSecrets) {
      throw new NeedsSecretsPermission(actor.name, `move ${name}'s repository to another host: the app's git credentials (${credentials.join(', ')}) go to that host`, 'repository');
    }
    // The app's secrets are in its containers' env: choosing the code they run is reading them (a deployer could
    // point the app at a repository of its own that prints its env), as GitLab keeps protected variables from
    // branches nobody reviewed. Deploying another ref of the same repository stays a deploy.
    const source = (['repository', 'runtime', 'image'] as const).find((field) => input[field] !== undefined && input[field] !== row[field]);
    const secrets = Object.keys(row.secrets).sort();
    if (source && secrets.length && !actor.managesSecrets) {
      throw new NeedsSecretsPermission(actor.name, `change where ${name}'s code comes from (${source}): the app's secrets (${secrets.join(', ')}) reach the code it runs`, source);
    }
    const { cpus, ...fields } = input;
    const next: AppEntity = { ...row, ...fields, ...(cpus === undefined ? {} : { cpuMillis: cpus === null ? null : Math.round(cpus * 1000) }), updatedAt: Date.now() };
    if (next.runtime === 'image' && !next.image) throw new DeployConflict('bad_runtime', 'image: is required for runtime image', 'image');
    if (next.runtime !== 'image' && !next.repository) throw new DeployConflict('bad_runtime', 'repository: is required for a runtime built from git', 'repository');
    await this.apps.save(next);
    await this.audit.record(actor, 'app.update', name, { fields: Object.keys(input) });
    return view(next);
  }

  /** Deletes the app row and its proxy policy and keys; the caller removed its instances first. */
  async delete(name: string, actor: Actor): Promise<void> {
    await this.row(name);
    await this.apps.delete({ name });
    // Its webhook secret must not outlive it (a new app of that name would otherwise accept the old secret).
    await this.apps.manager.delete(WebhookEntity, { app: name });
    // Its releases and builds go too: a new app of the same name would otherwise roll back to the old app's
    // code, or be moved to a build that ended after the delete, running it with the new app's env and secrets.
    this.modules.get(BuilderService, { strict: false }).forget(name);
    await this.apps.manager.delete(ReleaseEntity, { app: name });
    await this.dropProxyPolicy(name);
    await this.audit.record(actor, 'app.delete', name);
  }

  async setRelease(name: string, release: string): Promise<void> {
    await this.apps.update({ name }, { release, updatedAt: Date.now() });
  }

  async addDomain(name: string, domain: string, actor: Actor): Promise<AppView> {
    const row = await this.row(name);
    await this.assertDomainFree(domain, name);
    if (!row.domains.includes(domain)) row.domains = [...row.domains, domain];
    const view = await this.saveAudited(row, actor, 'app.domain.add', { domain });
    await this.tellInstances(name);
    return view;
  }

  async removeDomain(name: string, domain: string, actor: Actor): Promise<AppView> {
    const row = await this.row(name);
    if (!row.domains.includes(domain)) throw new NotFound('domain', domain);
    row.domains = row.domains.filter((existing) => existing !== domain);
    const view = await this.saveAudited(row, actor, 'app.domain.remove', { domain });
    await this.tellInstances(name);
    return view;
  }

  /** Domains apply at once, unlike env: the running containers are registered with them again (instances.service.ts). */
  private async tellInstances(name: string): Promise<void> {
    // Imported when used: InstancesService depends on this service.
    const { InstancesService } = await import('./instances.service.js');
    await this.modules.get(InstancesService, { strict: false }).domainsChanged(name);
  }

  async setEnv(name: string, env: Record<string, string>, actor: Actor): Promise<AppView> {
    const row = await this.row(name);
    this.assertMaySetEnv(name, env, actor);
    row.env = { ...row.env, ...env };
    return this.saveAudited(row, actor, 'app.env.set', { names: Object.keys(env) });
  }

  /**
   * Env that chooses the code the app runs (`NODE_OPTIONS`, `LD_PRELOAD`, ...: code-env.ts) takes
   * deploy.secrets, as changing the repository does: the app's secrets are in the same env. Whether
   * the app has secrets yet does not matter, since secrets set later would reach that code too.
   */
  private assertMaySetEnv(app: string, env: Record<string, string>, actor: Actor): void {
    const chosen = codeChoosingEnv(Object.keys(env));
    if (chosen.length && !actor.managesSecrets) {
      throw new NeedsSecretsPermission(actor.name, `set ${chosen.join(', ')} on ${app}: they choose the code its containers run, which the app's secrets reach`, 'env');
    }
  }

  async unsetEnv(name: string, variable: string, actor: Actor): Promise<AppView> {
    const row = await this.row(name);
    if (!(variable in row.env)) throw new NotFound('env variable', variable);
    const { [variable]: _removed, ...rest } = row.env;
    row.env = rest;
    return this.saveAudited(row, actor, 'app.env.unset', { name: variable });
  }

  async setSecrets(name: string, secrets: Record<string, string>, actor: Actor): Promise<AppView> {
    const row = await this.row(name);
    row.secrets = { ...row.secrets, ...Object.fromEntries(Object.entries(secrets).map(([key, value]) => [key, this.secretsBox.seal(value)])) };
    return this.saveAudited(row, actor, 'app.secret.set', { names: Object.keys(secrets) });
  }

  async unsetSecret(name: string, secret: string, actor: Actor): Promise<AppView> {
    const row = await this.row(name);
    if (!(secret in row.secrets)) throw new NotFound('secret', secret);
    const { [secret]: _removed, ...rest } = row.secrets;
    row.secrets = rest;
    return this.saveAudited(row, actor, 'app.secret.unset', { name: secret });
  }

  /** A file:// repository is refused while they are off, the same way whatever its path (nothing is looked at). */
  private assertFetchable(repository: string | null): void {
    if (repository && isFileUrl(repository) && !this.config.deploy.git.allowFile) throw new BadInput('repository', FILE_REPOSITORIES_OFF);
  }

  /** A fixed port in the allowed range and none of dozen's own (each agent checks again against its host's config). */
  private assertPortAllowed(port: number | null): void {
    const problem = port === null ? null : fixedPortProblem(port, this.config);
    if (problem) throw new BadInput('port', problem);
  }

  /** The proxy keeps the app's balancer, auth policy and API keys; they go with the app when the proxy runs on this host. */
  private async dropProxyPolicy(name: string): Promise<void> {
    let policies: ProxyPolicyService;
    try {
      policies = this.modules.get(ProxyPolicyService, { strict: false });
    } catch {
      return;
    }
    await policies.resetPolicy(name);
    for (const key of await policies.listKeys(name)) if (!key.revokedAt) await policies.revokeKey(name, key.id);
  }

  private async saveAudited(row: AppEntity, actor: Actor, action: string, detail: Record<string, unknown>): Promise<AppView> {
    row.updatedAt = Date.now();
    await this.apps.save(row);
    await this.audit.record(actor, action, row.name, detail);
    return view(row);
  }

  /** One domain, one app: checked against every other app here (the registry checks registrations again). */
  private async assertDomainFree(domain: string, app: string): Promise<void> {
    for (const other of await this.apps.find()) {
      if (other.name !== app && other.domains.includes(domain)) throw new DeployConflict('domain_taken', `domain ${JSON.stringify(domain)} is already served by app ${JSON.stringify(other.name)}`, 'domain');
    }
  }
}

function view(row: AppEntity): AppView {
  return {
    // One stored before credentials in URLs were refused still builds, but is never shown with them.
    name: row.name, repository: row.repository && redactUrlCredentials(row.repository), defaultRef: row.defaultRef, runtime: row.runtime, image: row.image, port: row.port, healthPath: row.healthPath,
    env: row.env, secrets: Object.keys(row.secrets).sort(), domains: row.domains, release: row.release, memoryMb: row.memoryMb,
    cpus: row.cpuMillis === null ? null : row.cpuMillis / 1000, policy: `/proxy/apps/${row.name}/policy`,
    createdAt: new Date(row.createdAt).toISOString(), updatedAt: new Date(row.updatedAt).toISOString(),
  };
}
