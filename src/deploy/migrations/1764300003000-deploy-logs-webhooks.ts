import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Where each container's output is shipped up to, and the apps' push webhooks. */
export class DeployLogsWebhooks1764300003000 implements MigrationInterface {
  name = 'DeployLogsWebhooks1764300003000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'deploy_log_checkpoints',
        columns: [
          { name: 'container_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'host', type: 'varchar', length: '63' },
          { name: 'app', type: 'varchar', length: '63' },
          { name: 'instance', type: 'varchar', length: '32' },
          { name: 'stdout_at', type: 'varchar', length: '32' },
          { name: 'stdout_count', type: 'int' },
          { name: 'stderr_at', type: 'varchar', length: '32' },
          { name: 'stderr_count', type: 'int' },
          { name: 'skip_bytes', type: 'bigint' },
          { name: 'object_key', type: 'varchar', length: '1024', isNullable: true },
          { name: 'object_position', type: 'bigint' },
          { name: 'pending_length', type: 'bigint' },
          { name: 'updated_at', type: 'bigint' },
        ],
      }),
      true,
    );
    await queryRunner.createIndex('deploy_log_checkpoints', new TableIndex({ name: 'deploy_log_checkpoints_host', columnNames: ['host'] }));
    await queryRunner.createTable(
      new Table({
        name: 'deploy_webhooks',
        columns: [
          { name: 'app', type: 'varchar', length: '63', isPrimary: true },
          { name: 'sealed_secret', type: 'text' },
          { name: 'created_at', type: 'bigint' },
        ],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['deploy_webhooks', 'deploy_log_checkpoints']) await queryRunner.dropTable(table, true);
  }
}
