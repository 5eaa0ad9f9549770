import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { AuditEventEntity } from './deploy.entity.js';

/** Who made a change and from where (the REST/GraphQL caller). */
export interface Actor {
  /** `admin`, or `token:<id>` for an API token. */
  name: string;
  address: string | null;
}

export const SYSTEM: Actor = { name: 'dozen', address: null };

/** The audit trail of the deploy module: one row per mutation. */
@Injectable()
export class AuditService {
  constructor(@InjectRepository(AuditEventEntity) private readonly events: Repository<AuditEventEntity>) {}

  async record(actor: Actor, action: string, target: string, detail: Record<string, unknown> = {}): Promise<void> {
    await this.events.save(this.events.create({ id: randomUUID(), at: Date.now(), actor: actor.name, action, target, detail, address: actor.address }));
  }

  /** The newest first. */
  async list(limit: number): Promise<AuditEventEntity[]> {
    return this.events.find({ order: { at: 'DESC' }, take: limit });
  }
}
