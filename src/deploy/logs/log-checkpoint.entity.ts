import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** MySQL hands BIGINT back as a string. */
const bigintNumber = { to: (value: number) => value, from: (value: string | number) => Number(value) };

/**
 * How far one container's output is in the object store. The marks say which
 * messages are shipped (see ResumeFilter); `skipBytes` counts bytes of the
 * messages after them that are in the object too (a batch that landed before
 * its confirmation was saved). `pendingLength` is a batch sent at
 * `objectPosition` of `objectKey` whose confirmation was not saved yet: after
 * a crash the object's real length tells how much of it landed.
 */
@Entity('deploy_log_checkpoints')
export class LogCheckpointEntity {
  @PrimaryColumn({ name: 'container_id', type: 'varchar', length: 64 }) containerId!: string;
  /** The dozen host whose agent ships it (hosts share one database). */
  @Index('deploy_log_checkpoints_host') @Column({ type: 'varchar', length: 63 }) host!: string;
  @Column({ type: 'varchar', length: 63 }) app!: string;
  @Column({ type: 'varchar', length: 32 }) instance!: string;
  @Column({ name: 'stdout_at', type: 'varchar', length: 32 }) stdoutAt!: string;
  @Column({ name: 'stdout_count', type: 'int' }) stdoutCount!: number;
  @Column({ name: 'stderr_at', type: 'varchar', length: 32 }) stderrAt!: string;
  @Column({ name: 'stderr_count', type: 'int' }) stderrCount!: number;
  @Column({ name: 'skip_bytes', type: 'bigint', transformer: bigintNumber }) skipBytes!: number;
  @Column({ name: 'object_key', type: 'varchar', length: 1024, nullable: true }) objectKey!: string | null;
  @Column({ name: 'object_position', type: 'bigint', transformer: bigintNumber }) objectPosition!: number;
  @Column({ name: 'pending_length', type: 'bigint', transformer: bigintNumber }) pendingLength!: number;
  @Column({ name: 'updated_at', type: 'bigint', transformer: bigintNumber }) updatedAt!: number;
}
