import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, type Repository } from 'typeorm';
import { LiveCallers } from '../common/live-callers.js';
import { secretDigest } from '../common/secrets.js';
import type { DozenConfig } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';
import { SessionEntity } from './access.entity.js';

/** last_seen_at is written at most this often (or a tenth of the idle time, when shorter), not on every request. */
const TOUCH_EVERY_MS = 30_000;

/**
 * Login sessions, kept server-side (so logout, disabling a user or a password change end them at once, on
 * every host sharing the database, and close this host's WebSockets opened with them at once, the other
 * hosts' within `access.socketRecheckSeconds`). A session ends when unused for `idleMinutes` or
 * `absoluteHours` after login.
 */
@Injectable()
export class SessionsService {
  private readonly idleMs: number;
  private readonly absoluteMs: number;

  constructor(
    @InjectRepository(SessionEntity) private readonly sessions: Repository<SessionEntity>,
    private readonly live: LiveCallers,
    @InjectConfig() config: DozenConfig,
  ) {
    this.idleMs = config.access.session.idleMinutes * 60_000;
    this.absoluteMs = config.access.session.absoluteHours * 3_600_000;
  }

  /** Starts a session; `secret` goes in the session cookie, `csrf` in the CSRF cookie. */
  async start(userId: string, address: string | null): Promise<{ secret: string; csrf: string; expiresAt: number }> {
    const secret = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    const now = Date.now();
    await this.sessions.insert({ digest: secretDigest(secret), userId, csrf, createdAt: now, lastSeenAt: now, address });
    // Rows of sessions that ended without a logout are swept on each login.
    await this.sessions.delete({ createdAt: LessThan(now - this.absoluteMs) });
    return { secret, csrf, expiresAt: now + this.absoluteMs };
  }

  /** The live session for a cookie's secret (its idle time restarted), or null when unknown or expired (then it is deleted). */
  async resume(secret: string): Promise<SessionEntity | null> {
    const row = await this.peek(secret);
    const now = Date.now();
    if (row && now - row.lastSeenAt >= Math.min(TOUCH_EVERY_MS, this.idleMs / 10)) {
      row.lastSeenAt = now;
      await this.sessions.update({ digest: row.digest }, { lastSeenAt: now });
    }
    return row;
  }

  /** The live session for a cookie's secret, its idle time left running (an open WebSocket checked again); null like `resume`. */
  async peek(secret: string): Promise<SessionEntity | null> {
    const digest = secretDigest(secret);
    const row = await this.sessions.findOneBy({ digest });
    if (!row) return null;
    const now = Date.now();
    if (now - row.lastSeenAt >= this.idleMs || now - row.createdAt >= this.absoluteMs) {
      await this.sessions.delete({ digest });
      return null;
    }
    return row;
  }

  /** Ends one session (logout); its WebSockets on this host close before this resolves. */
  async end(secret: string): Promise<void> {
    const digest = secretDigest(secret);
    const row = await this.sessions.findOneBy({ digest });
    await this.sessions.delete({ digest });
    if (row) await this.live.recheckUser(row.userId, 'logged out');
  }

  /** Ends every session of a user (`why`: disabled, password reset); their WebSockets close too. */
  async endAllOf(userId: string, why: string): Promise<void> {
    await this.sessions.delete({ userId });
    await this.live.recheckUser(userId, why);
  }
}
