import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/** The HTTPS part of an app's policy: certificate source, redirect from plain HTTP, HSTS (Table API: SQLite and MySQL). */
export class ProxyTlsPolicy1764400000000 implements MigrationInterface {
  name = 'ProxyTlsPolicy1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumns('proxy_app_policies', [
      new TableColumn({ name: 'tls', type: 'varchar', length: '8', default: "'auto'" }),
      new TableColumn({ name: 'redirect_http', type: 'boolean', default: false }),
      new TableColumn({ name: 'hsts', type: 'text', isNullable: true }),
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumns('proxy_app_policies', ['hsts', 'redirect_http', 'tls']);
  }
}
