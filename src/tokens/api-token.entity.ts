import { Column, Entity, PrimaryColumn } from 'typeorm';
import { millis } from '../database/millis.js';

/**
 * An API token: only the SHA-256 of its secret is stored (the secret is shown
 * once, at creation). `scopes` are space-separated names as given (aliases
 * kept, expanded when checked); times are epoch milliseconds.
 */
@Entity('api_tokens')
export class ApiTokenEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  @Column({ type: 'varchar', length: 128 }) name!: string;
  @Column({ type: 'varchar', length: 64, unique: true }) digest!: string;
  @Column({ type: 'varchar', length: 255 }) scopes!: string;
  /** When set, the token reaches only resource names (object keys) starting with it. */
  @Column({ type: 'varchar', length: 1024, nullable: true }) prefix!: string | null;
  @Column({ name: 'expires_at', type: 'bigint', nullable: true, transformer: millis }) expiresAt!: number | null;
  @Column({ name: 'created_at', type: 'bigint', transformer: millis }) createdAt!: number;
  /** Written at most once a minute per token, so a busy token does not write on every request. */
  @Column({ name: 'last_used_at', type: 'bigint', nullable: true, transformer: millis }) lastUsedAt!: number | null;
  @Column({ name: 'revoked_at', type: 'bigint', nullable: true, transformer: millis }) revokedAt!: number | null;
}
