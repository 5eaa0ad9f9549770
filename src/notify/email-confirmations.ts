import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { IsNull, Not, type Repository } from 'typeorm';
import { InjectLogger } from '../common/core.module.js';
import { BadInput, DomainError } from '../common/errors.js';
import { InjectConfig } from '../config/config.module.js';
import type { DozenConfig } from '../config/config.schema.js';
import { MAILER, NO_SMTP, type Mailer } from './mailer.js';
import { NotifyAddressEntity } from './notify.entity.js';

/** A code is good for a day, and for this many wrong tries; then a new one must be sent. */
const CODE_TTL_MS = 24 * 3600_000;
const MAX_WRONG_CODES = 5;
/** No second code to an address within this long: the confirmation mail is no way to flood a mailbox. */
const RESEND_AFTER_MS = 60_000;

/** Whose channel an address is on: a person's id, or the team's. */
export type OwnerKey = string;
export const TEAM: OwnerKey = 'team';

/** Whether an owner confirmed an address. */
export interface ConfirmedAddresses {
  has(owner: OwnerKey, address: string): boolean;
}

/** What a code mail came to, per address: sent, not due yet, or the SMTP server's refusal. */
export interface CodeMail {
  address: string;
  sent: boolean;
  problem: string | null;
}

/**
 * Email addresses of the console's channels are confirmed before anything is sent to them: anyone signed
 * in may make a channel, and without this dozen would mail whatever address they typed. A code goes to
 * each new address; someone who reads it enters it in the console (or the API) on that channel. A
 * confirmation belongs to the owner and the address: another person's channel to the same address needs
 * its own. The config's channels are the operators' word and need none.
 */
@Injectable()
export class EmailConfirmations {
  private readonly log: Logger;

  constructor(
    @InjectRepository(NotifyAddressEntity) private readonly rows: Repository<NotifyAddressEntity>,
    @Inject(MAILER) private readonly mailer: Mailer | null,
    @InjectConfig() private readonly config: DozenConfig,
    @InjectLogger() logger: Logger,
  ) {
    this.log = logger.child({ module: 'notify' });
  }

  /** Every confirmed owner and address, read at once: for reading many channels. */
  async allConfirmed(): Promise<ConfirmedAddresses> {
    const rows = await this.rows.findBy({ confirmedAt: Not(IsNull()) });
    const keys = new Set(rows.map((row) => `${row.ownerKey}\n${row.address}`));
    return { has: (owner, address) => keys.has(`${owner}\n${normal(address)}`) };
  }

  /**
   * Mails a code to each of `addresses` that `owner` has not confirmed, unless one went there within the
   * last minute (`force`: a person asked for a new one, refused with 429 when too soon).
   */
  async sendCodes(owner: OwnerKey, addresses: string[], context: { by: string; channel: string }, force = false): Promise<CodeMail[]> {
    const results: CodeMail[] = [];
    for (const address of addresses) {
      const row = await this.rows.findOneBy({ ownerKey: owner, address: normal(address) });
      if (row?.confirmedAt) continue;
      const wait = row ? row.sentAt + RESEND_AFTER_MS - Date.now() : 0;
      if (wait > 0) {
        if (force) throw new DomainError(429, 'too_soon', `a code went to ${address} less than a minute ago: try again in ${Math.ceil(wait / 1000)} s`, 'address', { retryAfter: Math.ceil(wait / 1000) });
        results.push({ address, sent: false, problem: null });
        continue;
      }
      const code = String(randomInt(0, 100_000_000)).padStart(8, '0');
      await this.rows.save({ ownerKey: owner, address: normal(address), codeHash: hashOf(code), attempts: 0, sentAt: Date.now(), confirmedAt: null });
      const problem = await this.mail(address, code, context);
      // Not sent: the next ask need not wait.
      if (problem) await this.rows.update({ ownerKey: owner, address: normal(address) }, { sentAt: 0 });
      this.log.info({ owner, address, channel: context.channel, problem }, problem ? 'address confirmation code not sent' : 'address confirmation code sent');
      results.push({ address, sent: problem === null, problem });
    }
    return results;
  }

  /** Confirms `address` for `owner` with the code mailed there; a wrong, spent or stale code is a 400 naming `code`. */
  async confirm(owner: OwnerKey, address: string, code: string): Promise<void> {
    const row = await this.rows.findOneBy({ ownerKey: owner, address: normal(address) });
    if (row?.confirmedAt) return;
    if (!row || row.codeHash === null) throw new BadInput('address', `no code was sent to ${address} for this channel: ask for one`);
    if (row.attempts >= MAX_WRONG_CODES) throw new BadInput('code', `${MAX_WRONG_CODES} wrong codes were entered for ${address}: ask for a new code`);
    if (Date.now() - row.sentAt > CODE_TTL_MS) throw new BadInput('code', `the code sent to ${address} expired (after 24 hours): ask for a new one`);
    const given = hashOf(code.replace(/[\s-]/g, ''));
    if (!timingSafeEqual(Buffer.from(given), Buffer.from(row.codeHash))) {
      await this.rows.increment({ ownerKey: owner, address: row.address }, 'attempts', 1);
      throw new BadInput('code', `not the code sent to ${address}`);
    }
    await this.rows.update({ ownerKey: owner, address: row.address }, { confirmedAt: Date.now(), codeHash: null });
    this.log.info({ owner, address }, 'address confirmed for notifications');
  }

  private async mail(address: string, code: string, context: { by: string; channel: string }): Promise<string | null> {
    if (!this.mailer) return NO_SMTP;
    const host = this.config.host.name;
    const text = [
      `${context.by} added this address to the notification channel "${context.channel}" of dozen on ${host}.`,
      '',
      `To get its notifications here, enter this code in dozen's console (Notifications, beside this address): ${code.slice(0, 4)}-${code.slice(4)}`,
      '',
      'It expires in 24 hours. If you did not expect this message, ignore it: nothing more is sent here until the code is entered.',
      '',
    ].join('\n');
    const attempt = await this.mailer.send([address], `[dozen ${host}] confirm ${address} for notifications`, text);
    return attempt?.problem ?? null;
  }
}

/** Addresses compare without case (as mail systems treat them in practice). */
export function normal(address: string): string {
  return address.trim().toLowerCase();
}

function hashOf(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}
