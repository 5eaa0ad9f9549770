import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Per-user login failures, shared by every host (they were kept in each host's memory). */
export class LoginFailures1764500000000 implements MigrationInterface {
  name = 'LoginFailures1764500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'access_login_failures',
        columns: [
          { name: 'name', type: 'varchar', length: '64', isPrimary: true },
          { name: 'count', type: 'int' },
          { name: 'last_at', type: 'bigint' },
          { name: 'locked_until', type: 'bigint' },
        ],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('access_login_failures', true);
  }
}
