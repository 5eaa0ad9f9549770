import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

/** API tokens (digests only) with their scopes, key prefix, expiry and revocation. */
export class ApiTokens1764100000000 implements MigrationInterface {
  name = 'ApiTokens1764100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'api_tokens',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'name', type: 'varchar', length: '128' },
          { name: 'digest', type: 'varchar', length: '64', isUnique: true },
          { name: 'scopes', type: 'varchar', length: '255' },
          { name: 'prefix', type: 'varchar', length: '1024', isNullable: true },
          { name: 'expires_at', type: 'bigint', isNullable: true },
          { name: 'created_at', type: 'bigint' },
          { name: 'last_used_at', type: 'bigint', isNullable: true },
          { name: 'revoked_at', type: 'bigint', isNullable: true },
        ],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('api_tokens', true);
  }
}
