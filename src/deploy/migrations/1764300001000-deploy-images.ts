import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Restart counts that survive a restart of dozen, and which releases' images were pruned (Table API, SQLite and MySQL alike). */
export class DeployImages1764300001000 implements MigrationInterface {
  name = 'DeployImages1764300001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn('deploy_instances', new TableColumn({ name: 'restart_count', type: 'int', default: 0 }));
    await queryRunner.addColumn('deploy_releases', new TableColumn({ name: 'image_removed_at', type: 'bigint', isNullable: true }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('deploy_releases', 'image_removed_at');
    await queryRunner.dropColumn('deploy_instances', 'restart_count');
  }
}
