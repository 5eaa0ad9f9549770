import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Email addresses of the console's channels, and whether someone who reads each confirmed it. */
export class NotifyAddresses1764700000000 implements MigrationInterface {
  name = 'NotifyAddresses1764700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'notify_addresses',
        columns: [
          { name: 'owner_key', type: 'varchar', length: '36', isPrimary: true },
          { name: 'address', type: 'varchar', length: '254', isPrimary: true },
          { name: 'code_hash', type: 'varchar', length: '64', isNullable: true },
          { name: 'attempts', type: 'int' },
          { name: 'sent_at', type: 'bigint' },
          { name: 'confirmed_at', type: 'bigint', isNullable: true },
        ],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('notify_addresses', true);
  }
}
