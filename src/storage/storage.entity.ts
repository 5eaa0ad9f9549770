import { Column, Entity, PrimaryColumn, type ValueTransformer } from 'typeorm';

/** MySQL hands BIGINT back as a string; offsets fit a double exactly up to 8 PiB. */
const bigintNumber: ValueTransformer = { to: (value: number) => value, from: (value: string | number) => Number(value) };

/**
 * One followed log file, identified by device and inode (`id`), with the
 * hash of its first bytes so a reused inode is not taken for the old file.
 * `offset` is how far the file is safely in the store. `pendingLength` is a
 * batch sent at `objectPosition` whose confirmation was not saved yet: after a
 * crash the object's real length tells whether it landed.
 */
@Entity('storage_tail_offsets')
export class TailOffset {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 1024 })
  path!: string;

  @Column({ type: 'varchar', length: 255 })
  name!: string;

  @Column({ name: 'head_hash', type: 'varchar', length: 64 })
  headHash!: string;

  @Column({ name: 'head_length', type: 'int' })
  headLength!: number;

  @Column({ type: 'bigint', transformer: bigintNumber })
  offset!: number;

  @Column({ name: 'object_key', type: 'varchar', length: 1024, nullable: true })
  objectKey!: string | null;

  @Column({ name: 'object_position', type: 'bigint', transformer: bigintNumber, default: 0 })
  objectPosition!: number;

  @Column({ name: 'pending_length', type: 'bigint', transformer: bigintNumber, default: 0 })
  pendingLength!: number;

  @Column({ name: 'updated_at', type: 'varchar', length: 32 })
  updatedAt!: string;
}
