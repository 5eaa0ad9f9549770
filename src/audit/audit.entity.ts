import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { millis } from '../database/millis.js';

const json = { to: (value: unknown) => JSON.stringify(value), from: (value: string) => JSON.parse(value) as unknown };

export type Outcome = 'ok' | 'refused' | 'failed';

/** One mutation of any module: who did what to which thing, when, from where, and how it ended. */
@Entity('audit_events')
export class AuditEventEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  @Index() @Column({ type: 'bigint', transformer: millis }) at!: number;
  /** The module the mutation belongs to: deploy, proxy, storage, users, auth, ... */
  @Column({ type: 'varchar', length: 32 }) module!: string;
  /** A user name, `admin-token`, `token:<id>` (a storage API token), or `dozen` for the platform itself. */
  @Column({ type: 'varchar', length: 128 }) actor!: string;
  @Column({ type: 'varchar', length: 128 }) action!: string;
  @Column({ type: 'varchar', length: 255 }) target!: string;
  @Column({ type: 'text', transformer: json }) detail!: Record<string, unknown>;
  @Column({ type: 'varchar', length: 64, nullable: true }) address!: string | null;
  @Column({ type: 'varchar', length: 16 }) outcome!: Outcome;
}
