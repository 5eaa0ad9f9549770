import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/** The deploy model: hosts, apps, releases, instances and the audit trail (Table API, so it runs on SQLite and MySQL). */
export class DeployModel1764200000000 implements MigrationInterface {
  name = 'DeployModel1764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'deploy_hosts',
        columns: [
          { name: 'name', type: 'varchar', length: '63', isPrimary: true },
          { name: 'address', type: 'varchar', length: '255' },
          { name: 'labels', type: 'text' },
          { name: 'version', type: 'varchar', length: '64' },
          { name: 'modules', type: 'text' },
          { name: 'last_seen_at', type: 'bigint' },
        ],
      }),
      true,
    );
    await queryRunner.createTable(
      new Table({
        name: 'deploy_apps',
        columns: [
          { name: 'name', type: 'varchar', length: '63', isPrimary: true },
          { name: 'repository', type: 'varchar', length: '1024', isNullable: true },
          { name: 'default_ref', type: 'varchar', length: '255' },
          { name: 'runtime', type: 'varchar', length: '16' },
          { name: 'image', type: 'varchar', length: '512', isNullable: true },
          { name: 'port', type: 'int', isNullable: true },
          { name: 'health_path', type: 'varchar', length: '255' },
          { name: 'env', type: 'text' },
          { name: 'secrets', type: 'text' },
          { name: 'domains', type: 'text' },
          { name: 'release', type: 'varchar', length: '16', isNullable: true },
          { name: 'memory_mb', type: 'int', isNullable: true },
          { name: 'cpu_millis', type: 'int', isNullable: true },
          { name: 'created_at', type: 'bigint' },
          { name: 'updated_at', type: 'bigint' },
        ],
      }),
      true,
    );
    await queryRunner.createTable(
      new Table({
        name: 'deploy_releases',
        columns: [
          { name: 'id', type: 'varchar', length: '16', isPrimary: true },
          { name: 'app', type: 'varchar', length: '63' },
          { name: 'ref', type: 'varchar', length: '255' },
          { name: 'git_commit', type: 'varchar', length: '64', isNullable: true },
          { name: 'image_id', type: 'varchar', length: '128', isNullable: true },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'build_log', type: 'text' },
          { name: 'error', type: 'varchar', length: '1024', isNullable: true },
          { name: 'created_at', type: 'bigint' },
          { name: 'created_by', type: 'varchar', length: '128' },
          { name: 'build_host', type: 'varchar', length: '63' },
        ],
      }),
      true,
    );
    await queryRunner.createIndex('deploy_releases', new TableIndex({ name: 'deploy_releases_app_created', columnNames: ['app', 'created_at'] }));
    await queryRunner.createTable(
      new Table({
        name: 'deploy_instances',
        columns: [
          { name: 'id', type: 'varchar', length: '32', isPrimary: true },
          { name: 'app', type: 'varchar', length: '63' },
          { name: 'host', type: 'varchar', length: '63' },
          { name: 'release', type: 'varchar', length: '16' },
          { name: 'desired', type: 'varchar', length: '16' },
          { name: 'generation', type: 'int' },
          { name: 'created_at', type: 'bigint' },
          { name: 'updated_at', type: 'bigint' },
        ],
      }),
      true,
    );
    await queryRunner.createTable(
      new Table({
        name: 'deploy_audit_events',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'at', type: 'bigint' },
          { name: 'actor', type: 'varchar', length: '128' },
          { name: 'action', type: 'varchar', length: '64' },
          { name: 'target', type: 'varchar', length: '255' },
          { name: 'detail', type: 'text' },
          { name: 'address', type: 'varchar', length: '64', isNullable: true },
        ],
      }),
      true,
    );
    await queryRunner.createIndex('deploy_audit_events', new TableIndex({ name: 'deploy_audit_events_at', columnNames: ['at'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['deploy_audit_events', 'deploy_instances', 'deploy_releases', 'deploy_apps', 'deploy_hosts']) await queryRunner.dropTable(table, true);
  }
}
