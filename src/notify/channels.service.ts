import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { IsNull, type Repository } from 'typeorm';
import { UsersService } from '../access/users.service.js';
import { InjectLogger } from '../common/core.module.js';
import { BadInput, DomainError, NotFound } from '../common/errors.js';
import { SecretsBox } from '../common/secrets-box.js';
import type { DozenConfig } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';
import type { CreateChannelInput, UpdateChannelInput } from './dto/notify.dto.js';
import { ChannelDestinations } from './destinations.js';
import { EmailConfirmations, normal, TEAM, type CodeMail, type ConfirmedAddresses, type OwnerKey } from './email-confirmations.js';
import { NO_SMTP } from './mailer.js';
import { NOTIFY_EVENTS, type ChannelType, type NotifyChannel, type NotifyEventKind } from './notify.config.js';
import { NotifyChannelEntity } from './notify.entity.js';

export type ChannelScope = 'config' | 'team' | 'personal';

/** A channel as the APIs show it: never its URL's key or path, never its secret. */
export interface ChannelView {
  id: string;
  scope: ChannelScope;
  name: string;
  type: ChannelType;
  /** Email: the addresses; the others: only the URL's scheme and host (the rest may hold the robot's key). */
  target: string;
  hasSecret: boolean;
  events: NotifyEventKind[];
  /** Config channels are changed in the config file only. */
  editable: boolean;
  /** Email: the addresses nothing is sent to until someone who reads them enters the code mailed there. */
  unconfirmed: string[];
}

/** A channel the Notifier sends to; `key` keeps its quiet window apart from every other channel's. */
export interface Recipient {
  key: string;
  /** For logs and metrics: the config name, `team/<name>` or `personal/<name>`. */
  label: string;
  channel: NotifyChannel;
  /** Made through the API: it may reach only the addresses ChannelDestinations allows (the config's channels, anything). */
  publicOnly: boolean;
}

/** The database is read again after this long, so channels changed on another host are seen. */
const RECIPIENTS_CACHE_MS = 5000;

/**
 * Channels kept in dozen's database: the team's (admins) and each person's own. Secrets and URLs are
 * sealed with the SecretsBox and only opened to send. Config channels are listed beside them, read-only.
 */
@Injectable()
export class ChannelsService {
  private readonly log: Logger;
  private cached: { at: number; recipients: Promise<Recipient[]> } | null = null;

  constructor(
    @InjectRepository(NotifyChannelEntity) private readonly rows: Repository<NotifyChannelEntity>,
    private readonly box: SecretsBox,
    private readonly users: UsersService,
    private readonly confirmations: EmailConfirmations,
    private readonly destinations: ChannelDestinations,
    @InjectConfig() private readonly config: DozenConfig,
    @InjectLogger() logger: Logger,
  ) {
    this.log = logger.child({ module: 'notify' });
  }

  /** Every channel a person sees: the config's and the team's (read-only unless `manageTeam`), and their own. */
  async list(userId: string | null, manageTeam: boolean): Promise<{ events: readonly NotifyEventKind[]; email: boolean; channels: ChannelView[] }> {
    const fromConfig: ChannelView[] = this.config.notify.channels.map((channel) => ({
      id: `config:${channel.name}`, scope: 'config', name: channel.name, type: channel.type, target: targetOf(channel),
      hasSecret: channel.type !== 'email' && Boolean(channel.secret), events: channel.events, editable: false, unconfirmed: [],
    }));
    const rows = await this.rows.find({ where: userId ? [{ ownerId: IsNull() }, { ownerId: userId }] : { ownerId: IsNull() }, order: { createdAt: 'ASC' } });
    const confirmed = await this.confirmations.allConfirmed();
    const stored = rows.map((row) => this.view(row, row.ownerId === null ? manageTeam : true, confirmed));
    return { events: NOTIFY_EVENTS, email: Boolean(this.config.notify.smtp), channels: [...fromConfig, ...stored] };
  }

  /** `ownerId` null: a team channel. An email channel's new addresses are each mailed a code (`by`: who to name there). */
  async create(ownerId: string | null, input: CreateChannelInput, by: string): Promise<ChannelView> {
    if (input.type === 'email' && !this.config.notify.smtp) throw new BadInput('type', NO_SMTP);
    if (input.type !== 'email') await this.assertReachable(input.url);
    const now = Date.now();
    const row = this.rows.create({
      id: randomUUID(), ownerId, name: input.name, type: input.type,
      target: input.type === 'email' ? JSON.stringify(input.to) : this.box.seal(input.url),
      secret: input.type !== 'email' && input.secret ? this.box.seal(input.secret) : null,
      events: JSON.stringify(input.events), createdAt: now, updatedAt: now,
    });
    await this.rows.insert(row);
    this.changed();
    this.log.info({ channel: row.id, type: row.type, owner: ownerId ?? 'team', events: input.events }, 'notification channel created');
    if (input.type === 'email') await this.confirmations.sendCodes(ownerKey(ownerId), input.to, { by, channel: input.name });
    return this.viewNow(row);
  }

  async update(ownerId: string | null, id: string, input: UpdateChannelInput, by: string): Promise<ChannelView> {
    const row = await this.find(ownerId, id);
    const email = row.type === 'email';
    if (email && (input.url !== undefined || input.secret !== undefined)) throw new BadInput(input.url !== undefined ? 'url' : 'secret', 'an email channel has addresses (to), not a URL or secret');
    if (!email && input.to !== undefined) throw new BadInput('to', `a ${row.type} channel has a URL, not addresses`);
    if (input.url !== undefined) await this.assertReachable(input.url);
    if (input.name !== undefined) row.name = input.name;
    if (input.events !== undefined) row.events = JSON.stringify(input.events);
    if (input.to !== undefined) row.target = JSON.stringify(input.to);
    if (input.url !== undefined) row.target = this.box.seal(input.url);
    if (input.secret !== undefined) row.secret = input.secret === null ? null : this.box.seal(input.secret);
    row.updatedAt = Date.now();
    await this.rows.update({ id }, { name: row.name, events: row.events, target: row.target, secret: row.secret, updatedAt: row.updatedAt });
    this.changed();
    this.log.info({ channel: id, owner: ownerId ?? 'team' }, 'notification channel changed');
    if (input.to !== undefined) await this.confirmations.sendCodes(ownerKey(ownerId), input.to, { by, channel: row.name });
    return this.viewNow(row);
  }

  async remove(ownerId: string | null, id: string): Promise<void> {
    await this.find(ownerId, id);
    await this.rows.delete({ id });
    this.changed();
    this.log.info({ channel: id, owner: ownerId ?? 'team' }, 'notification channel removed');
  }

  /** One channel of the owner (null: the team), opened to send a test message: email to its confirmed addresses only. */
  async recipient(ownerId: string | null, id: string): Promise<Recipient> {
    const row = await this.find(ownerId, id);
    const recipient = this.recipientOf(row, await this.confirmations.allConfirmed());
    if (!recipient) throw new DomainError(409, 'unconfirmed', `no address of ${row.name} is confirmed yet: enter the code mailed to ${(JSON.parse(row.target) as string[]).join(', ')}, or ask for a new one`);
    return recipient;
  }

  /** Confirms one address of an email channel with the code mailed there. */
  async confirmAddress(ownerId: string | null, id: string, address: string, code: string): Promise<ChannelView> {
    const row = await this.emailRow(ownerId, id, address);
    await this.confirmations.confirm(ownerKey(ownerId), address, code);
    this.changed();
    return this.viewNow(row);
  }

  /** Mails a new code to one unconfirmed address of an email channel (at most one a minute). */
  async sendCode(ownerId: string | null, id: string, address: string, by: string): Promise<CodeMail> {
    const row = await this.emailRow(ownerId, id, address);
    const [mail] = await this.confirmations.sendCodes(ownerKey(ownerId), [address], { by, channel: row.name }, true);
    if (!mail) throw new BadInput('address', `${address} is confirmed already`);
    return mail;
  }

  /** A 400 naming `url` when it points inside this host's networks (ChannelDestinations); checked again at each send. */
  private async assertReachable(url: string): Promise<void> {
    const refusal = await this.destinations.refusal(url);
    if (refusal) throw new BadInput('url', refusal);
  }

  private async emailRow(ownerId: string | null, id: string, address: string): Promise<NotifyChannelEntity> {
    const row = await this.find(ownerId, id);
    if (row.type !== 'email') throw new BadInput('id', `${row.name} is a ${row.type} channel, not email`);
    if (!(JSON.parse(row.target) as string[]).some((candidate) => normal(candidate) === normal(address))) throw new BadInput('address', `${address} is not an address of ${row.name}`);
    return row;
  }

  /** Every channel events go to: the config's, the team's and those of people who are not disabled. */
  recipients(): Promise<Recipient[]> {
    if (!this.cached || Date.now() - this.cached.at > RECIPIENTS_CACHE_MS) this.cached = { at: Date.now(), recipients: this.load() };
    return this.cached.recipients;
  }

  /** The config's channels always; the database's when it answers (a failed read is tried again at the next event). */
  private async load(): Promise<Recipient[]> {
    const fromConfig = this.config.notify.channels.map((channel): Recipient => ({ key: `config:${channel.name}`, label: channel.name, channel, publicOnly: false }));
    try {
      return [...fromConfig, ...(await this.stored())];
    } catch (error) {
      this.cached = null;
      this.log.error({ err: error }, 'notification channels not readable from the database; only the config channels are told');
      return fromConfig;
    }
  }

  private async stored(): Promise<Recipient[]> {
    const rows = await this.rows.find({ order: { createdAt: 'ASC' } });
    const confirmed: ConfirmedAddresses = rows.some((row) => row.type === 'email') ? await this.confirmations.allConfirmed() : { has: () => false };
    const active = rows.some((row) => row.ownerId !== null) ? new Set((await this.users.list()).filter((user) => !user.disabled).map((user) => user.id)) : new Set<string>();
    const stored: Recipient[] = [];
    for (const row of rows) {
      if (row.ownerId !== null && !active.has(row.ownerId)) continue;
      try {
        const recipient = this.recipientOf(row, confirmed);
        if (recipient) stored.push(recipient);
      } catch (error) {
        // Sealed under another key (dataDir moved without deploy.secretsKey): skipped, said once per read.
        this.log.error({ channel: row.id, err: error }, 'notification channel cannot be opened; skipped');
      }
    }
    return stored;
  }

  /** What the Notifier sends to for `row`; an email channel without a confirmed address: none. */
  private recipientOf(row: NotifyChannelEntity, confirmed: ConfirmedAddresses): Recipient | null {
    const events = JSON.parse(row.events) as NotifyEventKind[];
    const label = `${row.ownerId === null ? 'team' : 'personal'}/${row.name}`;
    if (row.type === 'email') {
      const to = (JSON.parse(row.target) as string[]).filter((address) => confirmed.has(ownerKey(row.ownerId), address));
      return to.length ? { key: `db:${row.id}`, label, channel: { name: row.name, type: 'email', to, events }, publicOnly: true } : null;
    }
    const channel: NotifyChannel = { name: row.name, type: row.type as Exclude<ChannelType, 'email'>, url: this.box.open(row.target), ...(row.secret ? { secret: this.box.open(row.secret) } : {}), events };
    return { key: `db:${row.id}`, label, channel, publicOnly: true };
  }

  private async find(ownerId: string | null, id: string): Promise<NotifyChannelEntity> {
    const row = await this.rows.findOneBy({ id, ownerId: ownerId === null ? IsNull() : ownerId });
    if (!row) throw new NotFound('channel', id);
    return row;
  }

  private changed(): void {
    this.cached = null;
  }

  /** The view of a row the caller just wrote (so may change). */
  private async viewNow(row: NotifyChannelEntity): Promise<ChannelView> {
    return this.view(row, true, await this.confirmations.allConfirmed());
  }

  private view(row: NotifyChannelEntity, editable: boolean, confirmed: ConfirmedAddresses): ChannelView {
    const email = row.type === 'email';
    let target = '';
    const addresses = email ? (JSON.parse(row.target) as string[]) : [];
    if (email) target = addresses.join(', ');
    else {
      try {
        target = targetOf({ type: 'webhook', url: this.box.open(row.target) });
      } catch {
        target = '(sealed under another key)';
      }
    }
    return {
      id: row.id, scope: row.ownerId === null ? 'team' : 'personal', name: row.name, type: row.type as ChannelType, target,
      hasSecret: row.secret !== null, events: JSON.parse(row.events) as NotifyEventKind[], editable,
      unconfirmed: addresses.filter((address) => !confirmed.has(ownerKey(row.ownerId), address)),
    };
  }
}

function ownerKey(ownerId: string | null): OwnerKey {
  return ownerId ?? TEAM;
}

function targetOf(channel: { type: string; url: string } | { type: 'email'; to: string[] }): string {
  return 'to' in channel ? channel.to.join(', ') : `${new URL(channel.url).origin}/…`;
}
