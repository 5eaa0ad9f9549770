import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { Repository } from 'typeorm';
import { InjectLogger } from '../common/core.module.js';
import { NotFound } from '../common/errors.js';
import { LiveCallers } from '../common/live-callers.js';
import { newSecret, secretDigest } from '../common/secrets.js';
import { PersonalTokenEntity } from './access.entity.js';
import type { CreatePersonalTokenInput } from './dto/access.dto.js';

export const PERSONAL_TOKEN_PREFIX = 'dzp_';

/** A personal token as the APIs show it: never its secret nor its digest. */
export interface PersonalTokenView {
  id: string;
  name: string;
  expiresAt: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** last_used_at is written at most this often per token. */
const LAST_USED_EVERY_MS = 60_000;

/**
 * Personal API tokens: a user makes them for programs; each acts with its owner's role (read from the user
 * at each request, so a role change or disabling the user applies at once). 32 random bytes, stored as
 * SHA-256 (nothing to stretch), shown once.
 */
@Injectable()
export class PersonalTokensService {
  private readonly log: Logger;

  constructor(
    @InjectRepository(PersonalTokenEntity) private readonly tokens: Repository<PersonalTokenEntity>,
    private readonly live: LiveCallers,
    @InjectLogger() logger: Logger,
  ) {
    this.log = logger.child({ module: 'access' });
  }

  async create(userId: string, input: CreatePersonalTokenInput): Promise<PersonalTokenView & { token: string }> {
    const { secret: token, digest } = newSecret(PERSONAL_TOKEN_PREFIX);
    const row = this.tokens.create({
      id: randomUUID(),
      userId,
      name: input.name,
      digest,
      expiresAt: input.expiresAt === null ? null : Date.parse(input.expiresAt),
      createdAt: Date.now(),
      lastUsedAt: null,
      revokedAt: null,
    });
    await this.tokens.insert(row);
    this.log.info({ token: row.id, user: userId, expiresAt: row.expiresAt }, 'personal token created');
    return { ...tokenView(row), token };
  }

  async list(userId: string): Promise<PersonalTokenView[]> {
    return (await this.tokens.find({ where: { userId }, order: { createdAt: 'ASC' } })).map(tokenView);
  }

  /** Revokes one of the user's tokens, closing the WebSockets opened with it; another user's token is "not found" (its existence is not told). */
  async revoke(userId: string, id: string): Promise<PersonalTokenView> {
    const row = await this.tokens.findOneBy({ id, userId });
    if (!row) throw new NotFound('personal token', id);
    if (row.revokedAt === null) {
      row.revokedAt = Date.now();
      await this.tokens.update({ id }, { revokedAt: row.revokedAt });
      this.log.info({ token: id, user: userId }, 'personal token revoked');
      await this.live.recheckUser(userId, 'token revoked');
    }
    return tokenView(row);
  }

  recognizes(token: string): boolean {
    return token.startsWith(PERSONAL_TOKEN_PREFIX);
  }

  /**
   * The token's row when it is live, or why it is refused. Read from the database each time, so a revoke
   * applies on every host at once. `peek`: not a use (an open WebSocket checked again).
   */
  async check(token: string, { peek = false }: { peek?: boolean } = {}): Promise<{ row: PersonalTokenEntity } | { refused: string }> {
    const row = await this.tokens.findOneBy({ digest: secretDigest(token) });
    const now = Date.now();
    if (!row) return { refused: 'the personal token is not valid (unknown)' };
    if (row.revokedAt !== null) return { refused: `the personal token ${row.id} was revoked at ${new Date(row.revokedAt).toISOString()}` };
    if (row.expiresAt !== null && row.expiresAt <= now) return { refused: `the personal token ${row.id} expired at ${new Date(row.expiresAt).toISOString()}` };
    if (!peek && (row.lastUsedAt === null || now - row.lastUsedAt >= LAST_USED_EVERY_MS)) {
      row.lastUsedAt = now;
      await this.tokens.update({ id: row.id }, { lastUsedAt: now });
    }
    return { row };
  }
}

function tokenView(row: PersonalTokenEntity): PersonalTokenView {
  const iso = (millis: number | null) => (millis === null ? null : new Date(millis).toISOString());
  return { id: row.id, name: row.name, expiresAt: iso(row.expiresAt), createdAt: iso(row.createdAt)!, lastUsedAt: iso(row.lastUsedAt), revokedAt: iso(row.revokedAt) };
}
