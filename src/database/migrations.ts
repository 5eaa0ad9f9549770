import type { MigrationInterface } from 'typeorm';
import { BroadcastBinlogCheckpoints1764000006000 } from '../broadcast/migrations/1764000006000-broadcast-binlog-checkpoints.js';

/**
 * Every migration, in order. Each module keeps its migrations in its own folder
 * (`src/<module>/migrations/`) and lists them here, so the schema is the same on
 * every host whatever modules it runs. Write them with the QueryRunner's Table
 * API so they run on SQLite and MySQL alike.
 */
export const MIGRATIONS: (new () => MigrationInterface)[] = [BroadcastBinlogCheckpoints1764000006000];
