import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Between, LessThanOrEqual, Like, MoreThanOrEqual, type FindOptionsWhere, type Repository } from 'typeorm';
import { AuditEventEntity, type Outcome } from './audit.entity.js';
import type { AuditFilter } from './audit.dto.js';
import { redacted } from './redact.js';

export interface AuditRecord {
  module: string;
  actor: string;
  action: string;
  target: string;
  detail?: Record<string, unknown>;
  address: string | null;
  outcome: Outcome;
}

/** An event as the APIs show it. */
export interface AuditEventView extends Omit<AuditRecord, 'detail'> {
  id: string;
  at: string;
  detail: Record<string, unknown>;
}

/**
 * The one audit trail: every module's mutations land here (the edge records them; deploy adds its own named
 * events). Every detail is redacted on its way in (redact.ts), whoever wrote it: the trail is readable by every role.
 */
@Injectable()
export class AuditTrail {
  constructor(@InjectRepository(AuditEventEntity) private readonly events: Repository<AuditEventEntity>) {}

  async record(event: AuditRecord): Promise<void> {
    await this.events.insert({
      id: randomUUID(),
      at: Date.now(),
      module: event.module.slice(0, 32),
      actor: event.actor.slice(0, 128),
      action: event.action.slice(0, 128),
      target: event.target.slice(0, 255),
      detail: redacted(event.detail ?? {}) as never,
      address: event.address?.slice(0, 64) ?? null,
      outcome: event.outcome,
    });
  }

  /** Newest first. */
  async list(filter: AuditFilter): Promise<AuditEventView[]> {
    const where: FindOptionsWhere<AuditEventEntity> = {};
    if (filter.module) where.module = filter.module;
    if (filter.actor) where.actor = filter.actor;
    if (filter.outcome) where.outcome = filter.outcome;
    if (filter.action) where.action = filter.action.endsWith('*') ? Like(filter.action.slice(0, -1) + '%') : filter.action;
    if (filter.since !== undefined && filter.until !== undefined) where.at = Between(filter.since, filter.until);
    else if (filter.since !== undefined) where.at = MoreThanOrEqual(filter.since);
    else if (filter.until !== undefined) where.at = LessThanOrEqual(filter.until);
    const rows = await this.events.find({ where, order: { at: 'DESC', id: 'ASC' }, take: filter.limit, skip: filter.offset });
    return rows.map((row) => ({ ...row, at: new Date(row.at).toISOString() }));
  }
}
