import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { RoleName } from '../common/principal.js';
import { millis } from '../database/millis.js';

export type Role = RoleName;

/** A person who logs in to the console. `passwordHash` is a self-describing scrypt string (passwords.ts). */
@Entity('access_users')
export class UserEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  @Column({ type: 'varchar', length: 64, unique: true }) name!: string;
  @Column({ type: 'varchar', length: 16 }) role!: Role;
  @Column({ name: 'password_hash', type: 'varchar', length: 255 }) passwordHash!: string;
  @Column({ name: 'created_at', type: 'bigint', transformer: millis }) createdAt!: number;
  @Column({ name: 'updated_at', type: 'bigint', transformer: millis }) updatedAt!: number;
  @Column({ name: 'disabled_at', type: 'bigint', nullable: true, transformer: millis }) disabledAt!: number | null;
}

/**
 * A login session, kept server-side: the cookie holds a random secret, the row only its SHA-256, so a
 * leaked table opens no session. `csrf` is the double-submit value the console echoes in x-dozen-csrf.
 */
@Entity('access_sessions')
export class SessionEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 }) digest!: string;
  @Index() @Column({ name: 'user_id', type: 'varchar', length: 36 }) userId!: string;
  @Column({ type: 'varchar', length: 64 }) csrf!: string;
  @Column({ name: 'created_at', type: 'bigint', transformer: millis }) createdAt!: number;
  @Column({ name: 'last_seen_at', type: 'bigint', transformer: millis }) lastSeenAt!: number;
  @Column({ type: 'varchar', length: 64, nullable: true }) address!: string | null;
}

/** A user's own API token for programs: acts with its owner's role; only its SHA-256 is stored. */
@Entity('access_personal_tokens')
export class PersonalTokenEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  @Index() @Column({ name: 'user_id', type: 'varchar', length: 36 }) userId!: string;
  @Column({ type: 'varchar', length: 128 }) name!: string;
  @Column({ type: 'varchar', length: 64, unique: true }) digest!: string;
  @Column({ name: 'expires_at', type: 'bigint', nullable: true, transformer: millis }) expiresAt!: number | null;
  @Column({ name: 'created_at', type: 'bigint', transformer: millis }) createdAt!: number;
  @Column({ name: 'last_used_at', type: 'bigint', nullable: true, transformer: millis }) lastUsedAt!: number | null;
  @Column({ name: 'revoked_at', type: 'bigint', nullable: true, transformer: millis }) revokedAt!: number | null;
}

/** A user name's failed logins in a row (any name tried, existing or not), shared by every host through the database. */
@Entity('access_login_failures')
export class LoginFailureEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 }) name!: string;
  @Column({ type: 'int' }) count!: number;
  @Column({ name: 'last_at', type: 'bigint', transformer: millis }) lastAt!: number;
  @Column({ name: 'locked_until', type: 'bigint', transformer: millis }) lockedUntil!: number;
}
