import type { MigrationInterface } from 'typeorm';
import { StorageTailOffsets1764070000000 } from '../storage/migrations/1764070000000-storage-tail-offsets.js';

/**
 * Every migration, in order. Each module keeps its migrations in its own folder
 * (`src/<module>/migrations/`) and lists them here, so the schema is the same on
 * every host whatever modules it runs. Write them with the QueryRunner's Table
 * API so they run on SQLite and MySQL alike.
 */
export const MIGRATIONS: (new () => MigrationInterface)[] = [StorageTailOffsets1764070000000];
