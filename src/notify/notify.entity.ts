import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { millis } from '../database/millis.js';

/**
 * A channel made in the console: a team channel (`ownerId` null, admins manage it) or a person's own.
 * `target` is the address list of an email channel (JSON), or the sealed URL of the others (robots carry
 * their key in it); `secret` is sealed. Neither is ever read back through the APIs.
 */
@Entity('notify_channels')
export class NotifyChannelEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  @Index() @Column({ name: 'owner_id', type: 'varchar', length: 36, nullable: true }) ownerId!: string | null;
  @Column({ type: 'varchar', length: 64 }) name!: string;
  @Column({ type: 'varchar', length: 16 }) type!: string;
  @Column({ type: 'text' }) target!: string;
  @Column({ type: 'text', nullable: true }) secret!: string | null;
  /** JSON list of event kinds. */
  @Column({ type: 'text' }) events!: string;
  @Column({ name: 'created_at', type: 'bigint', transformer: millis }) createdAt!: number;
  @Column({ name: 'updated_at', type: 'bigint', transformer: millis }) updatedAt!: number;
}

/**
 * An email address a channel's owner (a person's id, or `team`) wants notifications sent to: only once
 * someone who reads it has entered the code dozen mailed there (`confirmedAt`) does it get any. The code
 * is kept as its SHA-256 only.
 */
@Entity('notify_addresses')
export class NotifyAddressEntity {
  @PrimaryColumn({ name: 'owner_key', type: 'varchar', length: 36 }) ownerKey!: string;
  @PrimaryColumn({ type: 'varchar', length: 254 }) address!: string;
  @Column({ name: 'code_hash', type: 'varchar', length: 64, nullable: true }) codeHash!: string | null;
  /** Wrong codes entered since the last was sent. */
  @Column({ type: 'int' }) attempts!: number;
  @Column({ name: 'sent_at', type: 'bigint', transformer: millis }) sentAt!: number;
  @Column({ name: 'confirmed_at', type: 'bigint', nullable: true, transformer: millis }) confirmedAt!: number | null;
}
