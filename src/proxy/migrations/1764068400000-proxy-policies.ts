import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/** The proxy's app policies and API key digests (Table API, so it runs on SQLite and MySQL). */
export class ProxyPolicies1764068400000 implements MigrationInterface {
  name = 'ProxyPolicies1764068400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'proxy_app_policies',
        columns: [
          { name: 'app', type: 'varchar', length: '63', isPrimary: true },
          { name: 'balancer', type: 'varchar', length: '16' },
          { name: 'hash_query', type: 'boolean' },
          { name: 'auth', type: 'varchar', length: '16' },
          { name: 'jwt', type: 'text', isNullable: true },
          { name: 'updated_at', type: 'bigint' },
        ],
      }),
      true,
    );
    await queryRunner.createTable(
      new Table({
        name: 'proxy_api_keys',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'app', type: 'varchar', length: '63' },
          { name: 'name', type: 'varchar', length: '128' },
          { name: 'digest', type: 'varchar', length: '64', isUnique: true },
          { name: 'hint', type: 'varchar', length: '16' },
          { name: 'created_at', type: 'bigint' },
          { name: 'revoked_at', type: 'bigint', isNullable: true },
        ],
      }),
      true,
    );
    await queryRunner.createIndex('proxy_api_keys', new TableIndex({ name: 'IDX_proxy_api_keys_app', columnNames: ['app'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('proxy_api_keys', true);
    await queryRunner.dropTable('proxy_app_policies', true);
  }
}
