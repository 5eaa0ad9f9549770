import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import type { DozenConfig } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';
import { InjectLogger } from './logger.js';
import type { Principal } from './principal.js';

/**
 * The close code of a WebSocket whose caller changed under it: its session ended (logout, expiry, password
 * reset), its personal token was revoked or expired, its user was disabled or given another role. The
 * reason says which. Reconnecting tells the rest: refused (401) when the credentials ended, the new
 * role's rights when only the role changed. In the private range (4000-4999) of RFC 6455; 4401 is also
 * graphql-transport-ws's "Unauthorized", which its clients do not retry blindly.
 */
export const CLOSE_CALLER_CHANGED = 4401;

/** What LiveCallers needs of a socket: ws's WebSocket, or the broadcast hub's Connection. */
export interface ClosableSocket {
  close(code: number, reason: string): void;
}

interface LiveSocket {
  socket: ClosableSocket;
  /** Who opened it. */
  principal: Principal;
  /** Who it is now, from the credentials it opened with (without counting as a use); null once they ended. */
  lookup(): Promise<Principal | null>;
  closed: boolean;
}

/** A tracked socket's handle: `current` checks its caller again (closing it if changed); `untrack` when it closes. */
export interface TrackedSocket {
  current(): Promise<Principal | null>;
  untrack(): void;
}

/**
 * The users behind open WebSockets (GraphQL subscriptions, the broadcast hub), so that a change to who
 * they are reaches the sockets too, not only the next request: the access module calls `recheckUser`
 * after a logout, a password reset, a token revoked, a user disabled or given another role, and each
 * socket of that user whose credentials no longer hold (or whose role moved) is closed with
 * CLOSE_CALLER_CHANGED. Every `access.socketRecheckSeconds` all of them are checked again: changes made on
 * another host sharing the database, sessions that idled or aged out, tokens that expired.
 */
@Injectable()
export class LiveCallers implements OnModuleDestroy {
  private readonly sockets = new Set<LiveSocket>();
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly log: Logger;

  constructor(@InjectConfig() config: DozenConfig, @InjectLogger() logger: Logger) {
    this.log = logger.child({ module: 'access' });
    this.sweepTimer = setInterval(() => void this.recheckAll(), config.access.socketRecheckSeconds * 1000);
    this.sweepTimer.unref();
  }

  /** Starts following a socket's caller; call `untrack` when it closes. The admin token is no user: nothing to follow. */
  track(socket: ClosableSocket, principal: Principal, lookup: () => Promise<Principal | null>): TrackedSocket {
    const live: LiveSocket = { socket, principal, lookup, closed: false };
    if (principal.userId !== null) this.sockets.add(live);
    return { current: () => this.check(live, 'the session or token has ended'), untrack: () => this.sockets.delete(live) };
  }

  /** Checks every socket of one user now; resolves once those that changed are closed. */
  async recheckUser(userId: string, reason: string): Promise<void> {
    const mine = [...this.sockets].filter((live) => live.principal.userId === userId);
    await Promise.all(mine.map((live) => this.checkQuietly(live, reason)));
  }

  onModuleDestroy(): void {
    clearInterval(this.sweepTimer);
  }

  private async recheckAll(): Promise<void> {
    // One at a time: a sweep is no reason for a burst of database reads.
    for (const live of [...this.sockets]) await this.checkQuietly(live, 'the session or token has ended');
  }

  /** A check whose failure (the database did not answer) is logged: the next sweep asks again; nobody is thrown out for an outage. */
  private async checkQuietly(live: LiveSocket, ended: string): Promise<void> {
    try {
      await this.check(live, ended);
    } catch (error) {
      this.log.warn({ err: error, user: live.principal.name }, 'caller of a WebSocket not checked');
    }
  }

  /** The socket's caller now, or null after closing it because its credentials ended (`ended` says how) or its role changed. */
  private async check(live: LiveSocket, ended: string): Promise<Principal | null> {
    if (live.closed) return null;
    const now = await live.lookup();
    if (now && now.role === live.principal.role) return now;
    const reason = now ? `role changed to ${now.role}` : ended;
    live.closed = true;
    this.sockets.delete(live);
    this.log.info({ user: live.principal.name, kind: live.principal.kind, reason }, 'WebSocket closed: its caller changed');
    live.socket.close(CLOSE_CALLER_CHANGED, reason);
    return null;
  }
}
