import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Where the tailer has shipped each followed file up to (saved only after the store confirmed). */
export class StorageTailOffsets1764070000000 implements MigrationInterface {
  name = 'StorageTailOffsets1764070000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'storage_tail_offsets',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'path', type: 'varchar', length: '1024' },
          { name: 'name', type: 'varchar', length: '255' },
          { name: 'head_hash', type: 'varchar', length: '64' },
          { name: 'head_length', type: 'int' },
          { name: 'offset', type: 'bigint' },
          { name: 'object_key', type: 'varchar', length: '1024', isNullable: true },
          { name: 'object_position', type: 'bigint', default: 0 },
          { name: 'pending_length', type: 'bigint', default: 0 },
          { name: 'updated_at', type: 'varchar', length: '32' },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('storage_tail_offsets');
  }
}
