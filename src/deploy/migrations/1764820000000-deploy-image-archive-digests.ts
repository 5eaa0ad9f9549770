import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/** The SHA-256 of each release's image archive as it was saved, checked before any host loads it (Table API, SQLite and MySQL alike). */
export class DeployImageArchiveDigests1764820000000 implements MigrationInterface {
  name = 'DeployImageArchiveDigests1764820000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn('deploy_releases', new TableColumn({ name: 'image_archive_sha256', type: 'varchar', length: '64', isNullable: true }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('deploy_releases', 'image_archive_sha256');
  }
}
