import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { Repository } from 'typeorm';
import type { ApiTokenGrant, ApiTokenLookup } from '../common/api-token-gate.js';
import { InjectLogger } from '../common/core.module.js';
import { NotFound } from '../common/errors.js';
import { newSecret, secretDigest } from '../common/secrets.js';
import { ApiTokenEntity } from './api-token.entity.js';
import type { CreateTokenInput } from './dto/tokens.dto.js';
import { expandScopes } from './scopes.js';

const TOKEN_PREFIX = 'dzt_';
/**
 * A looked-up token is reused this long before the database is asked again. Revoking through
 * this host drops it at once; a revocation made on another host (shared MySQL) takes at most this long here.
 */
const TOKEN_CACHE_MS = 2000;
/** last_used_at is written at most this often per token, so a busy token does not write on every request. */
const LAST_USED_EVERY_MS = 60_000;

/** A token as the admin API shows it: never its secret, nor its digest. */
export interface TokenView {
  id: string;
  name: string;
  scopes: string[];
  prefix: string | null;
  expiresAt: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/**
 * API tokens: created, listed and revoked by the admin, checked on each
 * request by the ApiTokenGate. Only the SHA-256 of a token is stored; the
 * tokens are 32 random bytes, so one fast hash is the right one (nothing to
 * stretch) and a lookup by digest is the comparison.
 */
@Injectable()
export class TokensService implements ApiTokenLookup {
  private readonly cache = new Map<string, { row: ApiTokenEntity; until: number }>();
  /** Counts revocations, so a lookup that raced one does not cache the row it read before. */
  private revocations = 0;
  private readonly log: Logger;

  constructor(
    @InjectRepository(ApiTokenEntity) private readonly tokens: Repository<ApiTokenEntity>,
    @InjectLogger() logger: Logger,
  ) {
    this.log = logger.child({ module: 'tokens' });
  }

  /** Makes a token; the returned `token` is the only time its secret is ever visible. */
  async create(input: CreateTokenInput): Promise<TokenView & { token: string }> {
    const { secret: token, digest } = newSecret(TOKEN_PREFIX);
    const row = this.tokens.create({
      id: randomUUID(),
      name: input.name,
      digest,
      scopes: [...new Set(input.scopes)].sort().join(' '),
      prefix: input.prefix,
      expiresAt: input.expiresAt === null ? null : Date.parse(input.expiresAt),
      createdAt: Date.now(),
      lastUsedAt: null,
      revokedAt: null,
    });
    await this.tokens.insert(row);
    this.log.info({ token: row.id, name: row.name, scopes: row.scopes, prefix: row.prefix, expiresAt: row.expiresAt }, 'API token created');
    return { ...view(row), token };
  }

  async list(): Promise<TokenView[]> {
    return (await this.tokens.find({ order: { createdAt: 'ASC' } })).map(view);
  }

  /** Revokes at once on this host (the cached lookup is dropped); revoking twice is not an error. */
  async revoke(id: string): Promise<TokenView> {
    const row = await this.tokens.findOneBy({ id });
    if (!row) throw new NotFound('API token', id);
    if (row.revokedAt === null) {
      row.revokedAt = Date.now();
      await this.tokens.update({ id }, { revokedAt: row.revokedAt });
      this.log.info({ token: id, name: row.name }, 'API token revoked');
    }
    this.revocations++;
    for (const [digest, cached] of this.cache) if (cached.row.id === id) this.cache.delete(digest);
    return view(row);
  }

  recognizes(token: string): boolean {
    return token.startsWith(TOKEN_PREFIX);
  }

  async check(token: string): Promise<{ grant: ApiTokenGrant } | { refused: string }> {
    const now = Date.now();
    const digest = secretDigest(token);
    let cached = this.cache.get(digest);
    if (!cached || cached.until <= now) {
      const revocations = this.revocations;
      const row = await this.tokens.findOneBy({ digest });
      // Only tokens that exist are cached, so the cache is bounded by the table, not by what callers send.
      if (!row) return { refused: 'the API token is not valid (unknown)' };
      cached = { row, until: now + TOKEN_CACHE_MS };
      if (revocations === this.revocations) this.cache.set(digest, cached);
    }
    const row = cached.row;
    if (row.revokedAt !== null) return { refused: `the API token ${row.id} was revoked at ${iso(row.revokedAt)}` };
    if (row.expiresAt !== null && row.expiresAt <= now) return { refused: `the API token ${row.id} expired at ${iso(row.expiresAt)}` };
    if (row.lastUsedAt === null || now - row.lastUsedAt >= LAST_USED_EVERY_MS) {
      row.lastUsedAt = now;
      await this.tokens.update({ id: row.id }, { lastUsedAt: now });
    }
    return { grant: { id: row.id, scopes: expandScopes(row.scopes.split(' ')), prefix: row.prefix } };
  }
}

function iso(millis: number): string {
  return new Date(millis).toISOString();
}

function view(row: ApiTokenEntity): TokenView {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes.split(' '),
    prefix: row.prefix,
    expiresAt: row.expiresAt === null ? null : iso(row.expiresAt),
    createdAt: iso(row.createdAt),
    lastUsedAt: row.lastUsedAt === null ? null : iso(row.lastUsedAt),
    revokedAt: row.revokedAt === null ? null : iso(row.revokedAt),
  };
}
