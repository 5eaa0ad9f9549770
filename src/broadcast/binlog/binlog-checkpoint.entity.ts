import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * How far the binlog source has published: where to restart reading
 * (always a transaction boundary), the last change published (replayed
 * changes at or before it are dropped), and each room's seq at that point
 * (so replayed changes get the same seq they had before a restart).
 */
@Entity('broadcast_binlog_checkpoints')
export class BinlogCheckpoint {
  /** The source: `<host>:<port>` of the MySQL server it reads. */
  @PrimaryColumn({ type: 'varchar', length: 255 }) source!: string;
  @Column({ name: 'resume_file', type: 'varchar', length: 255 }) resumeFile!: string;
  @Column({ name: 'resume_position', type: 'bigint' }) resumePosition!: string | number;
  @Column({ name: 'last_file', type: 'varchar', length: 255, nullable: true }) lastFile!: string | null;
  @Column({ name: 'last_position', type: 'bigint', nullable: true }) lastPosition!: string | number | null;
  @Column({ name: 'last_row', type: 'int', nullable: true }) lastRow!: number | null;
  @Column({ name: 'room_seqs', type: 'text' }) roomSeqs!: string;
  @Column({ name: 'updated_at', type: 'bigint' }) updatedAt!: string | number;
}
