import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

/** The embedded catalog's instances and key/values (Table API, so it runs on SQLite and MySQL). */
export class RegistryEmbeddedCatalog1764064800000 implements MigrationInterface {
  name = 'RegistryEmbeddedCatalog1764064800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'registry_instances',
        columns: [
          { name: 'id', type: 'varchar', length: '128', isPrimary: true },
          { name: 'app', type: 'varchar', length: '63' },
          { name: 'address', type: 'varchar', length: '255' },
          { name: 'port', type: 'int' },
          { name: 'host', type: 'varchar', length: '63' },
          { name: 'domains', type: 'text' },
          { name: 'release', type: 'varchar', length: '128', isNullable: true },
          { name: 'meta', type: 'text' },
          { name: 'ttl_ms', type: 'int' },
          { name: 'deregister_after_ms', type: 'int' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'expires_at', type: 'bigint' },
          { name: 'critical_since', type: 'bigint', isNullable: true },
        ],
      }),
      true,
    );
    await queryRunner.createTable(
      new Table({
        name: 'registry_kv',
        columns: [
          { name: 'key', type: 'varchar', length: '512', isPrimary: true },
          { name: 'value', type: 'text' },
          { name: 'modify_index', type: 'bigint' },
        ],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('registry_kv', true);
    await queryRunner.dropTable('registry_instances', true);
  }
}
