import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Instance ids and key/value keys compare byte for byte on MySQL/MariaDB, as in Consul and on SQLite:
 * there a varchar compares case-insensitively by default (`utf8mb4_general_ci`), so instances `web-A` and
 * `web-a` were one row, the second registration taking the first's place.
 */
export class RegistryKeysBinary1764830001000 implements MigrationInterface {
  name = 'RegistryKeysBinary1764830001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type !== 'mysql') return;
    await queryRunner.query('ALTER TABLE `registry_instances` MODIFY `id` varchar(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL');
    await queryRunner.query('ALTER TABLE `registry_kv` MODIFY `key` varchar(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type !== 'mysql') return;
    await queryRunner.query('ALTER TABLE `registry_kv` MODIFY `key` varchar(512) NOT NULL');
    await queryRunner.query('ALTER TABLE `registry_instances` MODIFY `id` varchar(128) NOT NULL');
  }
}
