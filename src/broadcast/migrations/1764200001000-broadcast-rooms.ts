import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Rooms' positions and history, kept across restarts (one host; with the Redis bus, Redis keeps them). */
export class BroadcastRooms1764200001000 implements MigrationInterface {
  name = 'BroadcastRooms1764200001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // A binlog row can be large; MySQL's TEXT stops at 64 KiB.
    const frameType = queryRunner.connection.options.type === 'mysql' ? 'longtext' : 'text';
    await queryRunner.createTable(
      new Table({
        name: 'broadcast_rooms',
        columns: [
          { name: 'name', type: 'varchar', length: '200', isPrimary: true },
          { name: 'seq', type: 'bigint' },
          { name: 'epoch', type: 'varchar', length: '64' },
          { name: 'previous_epoch', type: 'varchar', length: '64', isNullable: true },
          { name: 'epoch_base', type: 'bigint' },
          { name: 'replayable', type: 'boolean' },
          { name: 'clean', type: 'boolean' },
          { name: 'updated_at', type: 'bigint' },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'broadcast_room_messages',
        columns: [
          { name: 'room', type: 'varchar', length: '200', isPrimary: true },
          { name: 'seq', type: 'bigint', isPrimary: true },
          { name: 'ts', type: 'bigint' },
          { name: 'frame', type: frameType },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('broadcast_room_messages');
    await queryRunner.dropTable('broadcast_rooms');
  }
}
