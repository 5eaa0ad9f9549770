import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Notification channels made in the console: the team's and each person's own. */
export class NotifyChannels1764600000000 implements MigrationInterface {
  name = 'NotifyChannels1764600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'notify_channels',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'owner_id', type: 'varchar', length: '36', isNullable: true },
          { name: 'name', type: 'varchar', length: '64' },
          { name: 'type', type: 'varchar', length: '16' },
          { name: 'target', type: 'text' },
          { name: 'secret', type: 'text', isNullable: true },
          { name: 'events', type: 'text' },
          { name: 'created_at', type: 'bigint' },
          { name: 'updated_at', type: 'bigint' },
        ],
        indices: [{ name: 'notify_channels_owner', columnNames: ['owner_id'] }],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('notify_channels', true);
  }
}
