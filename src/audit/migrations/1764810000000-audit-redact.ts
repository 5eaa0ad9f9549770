import type { MigrationInterface, QueryRunner } from 'typeorm';
import { redacted } from '../redact.js';

const BATCH = 500;

/**
 * Hides the secrets events written before the trail redacted every detail may hold: a GraphQL argument's
 * JSON text (setProxyPolicy's HS256 secret), arrays of objects, a git URL's user and password. Rows are read
 * in id order, a batch at a time; only those that change are written. Nothing to undo: the secrets are gone.
 */
export class AuditRedact1764810000000 implements MigrationInterface {
  name = 'AuditRedact1764810000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    let after = '';
    for (;;) {
      const rows = (await queryRunner.query(`SELECT id, detail FROM audit_events WHERE id > ? ORDER BY id LIMIT ${BATCH}`, [after])) as { id: string; detail: string }[];
      for (const row of rows) {
        const detail = redactedText(row.detail);
        if (detail !== row.detail) await queryRunner.query('UPDATE audit_events SET detail = ? WHERE id = ?', [detail, row.id]);
      }
      if (rows.length < BATCH) return;
      after = rows[rows.length - 1].id;
    }
  }

  async down(): Promise<void> {
    // The hidden values are gone for good.
  }
}

/** The stored JSON text of a detail, redacted (the entity writes every detail as a JSON object). */
function redactedText(text: string): string {
  const detail: unknown = JSON.parse(text);
  if (detail === null || typeof detail !== 'object' || Array.isArray(detail)) return text;
  return JSON.stringify(redacted(detail as Record<string, unknown>));
}
