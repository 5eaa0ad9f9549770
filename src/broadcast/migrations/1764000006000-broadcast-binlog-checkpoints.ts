import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

export class BroadcastBinlogCheckpoints1764000006000 implements MigrationInterface {
  name = 'BroadcastBinlogCheckpoints1764000006000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'broadcast_binlog_checkpoints',
        columns: [
          { name: 'source', type: 'varchar', length: '255', isPrimary: true },
          { name: 'resume_file', type: 'varchar', length: '255' },
          { name: 'resume_position', type: 'bigint' },
          { name: 'last_file', type: 'varchar', length: '255', isNullable: true },
          { name: 'last_position', type: 'bigint', isNullable: true },
          { name: 'last_row', type: 'int', isNullable: true },
          { name: 'room_seqs', type: 'text' },
          { name: 'updated_at', type: 'bigint' },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('broadcast_binlog_checkpoints');
  }
}
