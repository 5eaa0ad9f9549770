import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** MySQL hands BIGINT back as a string. */
const millis = { to: (value: number) => value, from: (value: string | number) => Number(value) };

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
