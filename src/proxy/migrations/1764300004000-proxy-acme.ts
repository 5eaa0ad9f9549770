import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

/** ACME accounts and certificates, shared by every host (Table API, so it runs on SQLite and MySQL). */
export class ProxyAcme1764300004000 implements MigrationInterface {
  name = 'ProxyAcme1764300004000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'proxy_acme_accounts',
        columns: [
          { name: 'directory', type: 'varchar', length: '512', isPrimary: true },
          { name: 'email', type: 'varchar', length: '254' },
          { name: 'key_sealed', type: 'text' },
          { name: 'url', type: 'varchar', length: '512', isNullable: true },
          { name: 'created_at', type: 'bigint' },
        ],
      }),
      true,
    );
    await queryRunner.createTable(
      new Table({
        name: 'proxy_acme_certificates',
        columns: [
          { name: 'domain', type: 'varchar', length: '253', isPrimary: true },
          { name: 'cert_pem', type: 'text', isNullable: true },
          { name: 'key_sealed', type: 'text', isNullable: true },
          { name: 'not_before', type: 'bigint', isNullable: true },
          { name: 'not_after', type: 'bigint', isNullable: true },
          { name: 'issued_at', type: 'bigint', isNullable: true },
          { name: 'issued_by', type: 'varchar', length: '63', isNullable: true },
          { name: 'failures', type: 'int', default: 0 },
          { name: 'last_error', type: 'text', isNullable: true },
          { name: 'last_error_at', type: 'bigint', isNullable: true },
          { name: 'next_attempt_at', type: 'bigint', isNullable: true },
          { name: 'updated_at', type: 'bigint' },
        ],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('proxy_acme_certificates', true);
    await queryRunner.dropTable('proxy_acme_accounts', true);
  }
}
