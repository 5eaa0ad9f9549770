import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { In, type Repository } from 'typeorm';
import { InjectLogger } from '../../common/core.module.js';
import { NotFound } from '../../common/errors.js';
import { InjectConfig } from '../../config/config.module.js';
import type { DozenConfig } from '../../config/config.schema.js';
import { AppsService } from '../apps.service.js';
import { AuditService, type Actor } from '../audit.service.js';
import { ReleaseEntity } from '../deploy.entity.js';
import { ReleasesService, type ReleaseView } from '../releases.service.js';
import { SecretsBox } from '../../common/secrets-box.js';
import { readDelivery } from './push-event.js';
import { WebhookEntity } from './webhook.entity.js';

/** What a delivery to an app without a webhook is checked against: random, so no signature matches it. */
const NOBODYS_SECRET = randomBytes(32).toString('hex');

export interface WebhookView {
  app: string;
  /** Where the git host posts its push events. */
  url: string;
  createdAt: string;
}

/** What a delivery led to: `deployed` with the new release, or why it was acknowledged and ignored. */
export interface HookOutcome {
  deployed: boolean;
  reason: 'deployed' | 'ping' | 'not_a_push' | 'other_branch' | 'branch_deleted' | 'already_deployed';
  message: string;
  release?: ReleaseView | { id: string; status: string };
}

/** Releases that count as "this commit is deployed" (a failed or cancelled one may be pushed again). */
const LIVE = ['queued', 'building', 'ready'] as const;

/**
 * Deploy on push: each app may have one webhook URL with its own secret
 * (shown once, at creation or rotation; sealed at rest with the deploy
 * secrets key, since checking an HMAC needs the secret itself). A verified
 * push to the app's branch deploys the pushed commit; anything else is
 * acknowledged and ignored.
 */
@Injectable()
export class WebhooksService {
  private readonly log: Logger;
  /** One delivery per app at a time, so two copies of one push cannot both start a build. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    @InjectRepository(WebhookEntity) private readonly hooks: Repository<WebhookEntity>,
    @InjectRepository(ReleaseEntity) private readonly releaseRows: Repository<ReleaseEntity>,
    private readonly apps: AppsService,
    private readonly releases: ReleasesService,
    private readonly audit: AuditService,
    private readonly secrets: SecretsBox,
    @InjectConfig() private readonly config: DozenConfig,
    @InjectLogger() logger: Logger,
  ) {
    this.log = logger.child({ module: 'deploy', part: 'webhooks' });
  }

  /** Creates the app's webhook, or gives it a new secret (the old one stops working). The secret is in this answer only. */
  async rotate(app: string, actor: Actor): Promise<WebhookView & { secret: string }> {
    await this.apps.row(app);
    const secret = randomBytes(32).toString('base64url');
    const existed = await this.hooks.existsBy({ app });
    const row = this.hooks.create({ app, sealedSecret: this.secrets.seal(secret), createdAt: Date.now() });
    await this.hooks.save(row);
    await this.audit.record(actor, existed ? 'app.webhook.rotate' : 'app.webhook.create', app);
    return { ...this.view(row), secret };
  }

  async get(app: string): Promise<WebhookView> {
    return this.view(await this.row(app));
  }

  async remove(app: string, actor: Actor): Promise<void> {
    await this.row(app);
    await this.hooks.delete({ app });
    await this.audit.record(actor, 'app.webhook.delete', app);
  }

  /** A delivery to `/deploy/hooks/<app>`: verified against the app's secret, then deployed or acknowledged. */
  async receive(app: string, headers: IncomingHttpHeaders, body: Buffer, contentType: string | undefined, address: string | null): Promise<HookOutcome> {
    // An app without a webhook is checked against a secret nobody has: its delivery is refused as a badly signed
    // one is (401), so the answer does not tell which apps have a webhook (a 404 did, to anybody).
    const hook = await this.hooks.findOneBy({ app });
    const delivery = readDelivery(headers, body, contentType, hook ? this.secrets.open(hook.sealedSecret) : NOBODYS_SECRET);
    const fields = { app, provider: delivery.provider, event: delivery.event, delivery: delivery.id };
    if (!delivery.push) {
      this.log.info(fields, 'webhook delivery is not a push; ignored');
      return delivery.event === 'ping'
        ? { deployed: false, reason: 'ping', message: `webhook of ${app} reached` }
        : { deployed: false, reason: 'not_a_push', message: `${delivery.event || 'an unnamed'} event; only pushes deploy` };
    }
    const { ref, commit } = delivery.push;
    const branch = `refs/heads/${(await this.apps.row(app)).defaultRef}`;
    if (ref !== branch) {
      this.log.info({ ...fields, ref }, 'push to another branch; ignored');
      return { deployed: false, reason: 'other_branch', message: `${ref} is not ${app}'s branch (${branch})` };
    }
    if (!commit) return { deployed: false, reason: 'branch_deleted', message: `${ref} was deleted` };
    return this.serialized(app, async () => {
      const deployed = await this.releaseRows.findOne({ where: [{ app, commit, status: In([...LIVE]) }, { app, ref: commit, status: In([...LIVE]) }], order: { createdAt: 'DESC' } });
      if (deployed) {
        this.log.info({ ...fields, commit, release: deployed.id }, 'push of a commit already deployed; ignored');
        return { deployed: false, reason: 'already_deployed', message: `${commit} is already release ${deployed.id} (${deployed.status})`, release: { id: deployed.id, status: deployed.status } } as HookOutcome;
      }
      // The hook is the actor: the audit trail shows `webhook:<provider>` deployed it, from the sender's address.
      const release = await this.releases.deploy(app, commit, { name: `webhook:${delivery.provider}`, address, managesSecrets: false });
      this.log.info({ ...fields, commit, release: release.id }, 'push deployed');
      return { deployed: true, reason: 'deployed', message: `deploying ${commit} of ${ref}`, release } as HookOutcome;
    });
  }

  private serialized<T>(app: string, action: () => Promise<T>): Promise<T> {
    const next = (this.queues.get(app) ?? Promise.resolve()).then(action, action);
    const settled = next.catch(() => undefined);
    this.queues.set(app, settled);
    void settled.then(() => this.queues.get(app) === settled && this.queues.delete(app));
    return next;
  }

  private async row(app: string): Promise<WebhookEntity> {
    const row = await this.hooks.findOneBy({ app });
    if (!row) throw new NotFound('webhook of app', app);
    return row;
  }

  private view(row: WebhookEntity): WebhookView {
    return { app: row.app, url: `http://${this.config.host.address}:${this.config.admin.listen.port}/deploy/hooks/${row.app}`, createdAt: new Date(row.createdAt).toISOString() };
  }
}
