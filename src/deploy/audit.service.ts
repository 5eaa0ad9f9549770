import { Injectable } from '@nestjs/common';
import { AuditTrail, type AuditEventView } from '../audit/audit-trail.service.js';

/** Who made a change and from where (the REST/GraphQL caller). */
export interface Actor {
  /** A user name, `admin-token`, `token:<id>`, or `dozen` for the platform itself. */
  name: string;
  address: string | null;
  /** Holds deploy.secrets: may set what reaches the app's secrets (the secrets themselves, or the host its git credentials go to). */
  managesSecrets: boolean;
}

export const SYSTEM: Actor = { name: 'dozen', address: null, managesSecrets: false };

/** Deploy's named events (`app.create`, `instance.restart`, ...) in the one audit trail, as module `deploy`. */
@Injectable()
export class AuditService {
  constructor(private readonly trail: AuditTrail) {}

  async record(actor: Actor, action: string, target: string, detail: Record<string, unknown> = {}): Promise<void> {
    await this.trail.record({ module: 'deploy', actor: actor.name, address: actor.address, action, target, detail, outcome: 'ok' });
  }

  /** Deploy's events, newest first: what GET /deploy/audit shows (GET /audit?module=deploy is the same). */
  list(limit: number): Promise<AuditEventView[]> {
    return this.trail.list({ module: 'deploy', limit, offset: 0 });
  }
}
