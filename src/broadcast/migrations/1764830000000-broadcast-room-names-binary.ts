import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Room names compare byte for byte on MySQL/MariaDB too, as they do in the hub and on SQLite. A varchar
 * there compares by its collation, case-insensitively by default (`utf8mb4_general_ci`): `chat.a` and
 * `chat.A`, two rooms to the hub, were one key, and the save that held both failed, and every save after
 * it ("Duplicate entry"), for every room. Any client allowed to publish into `chat.*` could do that.
 */
export class BroadcastRoomNamesBinary1764830000000 implements MigrationInterface {
  name = 'BroadcastRoomNamesBinary1764830000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type !== 'mysql') return;
    await queryRunner.query('ALTER TABLE `broadcast_rooms` MODIFY `name` varchar(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL');
    await queryRunner.query('ALTER TABLE `broadcast_room_messages` MODIFY `room` varchar(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type !== 'mysql') return;
    await queryRunner.query('ALTER TABLE `broadcast_room_messages` MODIFY `room` varchar(200) NOT NULL');
    await queryRunner.query('ALTER TABLE `broadcast_rooms` MODIFY `name` varchar(200) NOT NULL');
  }
}
