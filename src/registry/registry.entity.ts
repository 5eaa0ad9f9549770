import { Column, Entity, PrimaryColumn } from 'typeorm';

/** An instance registered in the embedded catalog (only the embedded adapter reads or writes this table). */
@Entity('registry_instances')
export class RegistryInstanceEntity {
  @PrimaryColumn({ type: 'varchar', length: 128 }) id!: string;
  @Column({ type: 'varchar', length: 63 }) app!: string;
  @Column({ type: 'varchar', length: 255 }) address!: string;
  @Column({ type: 'int' }) port!: number;
  @Column({ type: 'varchar', length: 63 }) host!: string;
  /** JSON array of domain names. */
  @Column({ type: 'text' }) domains!: string;
  @Column({ type: 'varchar', length: 128, nullable: true }) release!: string | null;
  /** JSON object of string pairs. */
  @Column({ type: 'text' }) meta!: string;
  @Column({ name: 'ttl_ms', type: 'int' }) ttlMs!: number;
  @Column({ name: 'deregister_after_ms', type: 'int' }) deregisterAfterMs!: number;
  @Column({ type: 'varchar', length: 16 }) status!: string;
  @Column({ name: 'expires_at', type: 'bigint' }) expiresAt!: string | number;
  @Column({ name: 'critical_since', type: 'bigint', nullable: true }) criticalSince!: string | number | null;
}

/** A key/value of the embedded catalog. */
@Entity('registry_kv')
export class RegistryKvEntity {
  @PrimaryColumn({ type: 'varchar', length: 512 }) key!: string;
  @Column({ type: 'text' }) value!: string;
  @Column({ name: 'modify_index', type: 'bigint' }) modifyIndex!: string | number;
}
