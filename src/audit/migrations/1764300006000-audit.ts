import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/** One audit trail for every module; deploy's own trail (deploy_audit_events) is moved into it and dropped. */
export class Audit1764300006000 implements MigrationInterface {
  name = 'Audit1764300006000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'audit_events',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'at', type: 'bigint' },
          { name: 'module', type: 'varchar', length: '32' },
          { name: 'actor', type: 'varchar', length: '128' },
          { name: 'action', type: 'varchar', length: '128' },
          { name: 'target', type: 'varchar', length: '255' },
          { name: 'detail', type: 'text' },
          { name: 'address', type: 'varchar', length: '64', isNullable: true },
          { name: 'outcome', type: 'varchar', length: '16' },
        ],
      }),
      true,
    );
    await queryRunner.createIndex('audit_events', new TableIndex({ name: 'audit_events_at', columnNames: ['at'] }));
    await queryRunner.createIndex('audit_events', new TableIndex({ name: 'audit_events_module_at', columnNames: ['module', 'at'] }));
    if (await queryRunner.hasTable('deploy_audit_events')) {
      await queryRunner.query(
        "INSERT INTO audit_events (id, at, module, actor, action, target, detail, address, outcome) SELECT id, at, 'deploy', actor, action, target, detail, address, 'ok' FROM deploy_audit_events",
      );
      await queryRunner.dropTable('deploy_audit_events', true);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
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
        indices: [{ name: 'deploy_audit_events_at', columnNames: ['at'] }],
      }),
      true,
    );
    await queryRunner.query(
      "INSERT INTO deploy_audit_events (id, at, actor, action, target, detail, address) SELECT id, at, actor, action, target, detail, address FROM audit_events WHERE module = 'deploy' AND outcome = 'ok'",
    );
    await queryRunner.dropTable('audit_events', true);
  }
}
