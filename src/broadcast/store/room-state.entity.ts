import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A room's position, so it never goes back or repeats a seq after a restart. */
@Entity('broadcast_rooms')
export class RoomRow {
  @PrimaryColumn({ type: 'varchar', length: 200 }) name!: string;
  @Column({ type: 'bigint' }) seq!: string | number;
  @Column({ type: 'varchar', length: 64 }) epoch!: string;
  @Column({ name: 'previous_epoch', type: 'varchar', length: 64, nullable: true }) previousEpoch!: string | null;
  @Column({ name: 'epoch_base', type: 'bigint' }) epochBase!: string | number;
  /** Fed by the binlog source (which replays what a crash lost, with the same seqs). */
  @Column({ type: 'boolean' }) replayable!: boolean;
  /** False from the first write of a run until a clean shutdown: after a crash, its last messages may be lost. */
  @Column({ type: 'boolean' }) clean!: boolean;
  @Column({ name: 'updated_at', type: 'bigint' }) updatedAt!: string | number;
}

/** One message of a room's history, as the frame clients get. */
@Entity('broadcast_room_messages')
export class RoomMessageRow {
  @PrimaryColumn({ type: 'varchar', length: 200 }) room!: string;
  @PrimaryColumn({ type: 'bigint' }) seq!: string | number;
  @Column({ type: 'bigint' }) ts!: string | number;
  /** UTF-8 JSON; read back as a Buffer (SQLite keeps the bytes it was given) or a string (MySQL). */
  @Column({ type: 'text' }) frame!: string | Buffer;
}
