import type { IncomingMessage } from 'node:http';
import { type OnGatewayConnection, type OnGatewayInit, WebSocketGateway } from '@nestjs/websockets';
import type { OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import type { ServerOptions, WebSocket, WebSocketServer } from 'ws';
import { AdminAuth } from '../common/admin-auth.js';
import { InjectLogger } from '../common/core.module.js';
import { CLOSE_CALLER_CHANGED, LiveCallers } from '../common/live-callers.js';
import type { Principal } from '../common/principal.js';
import { bearerOf } from '../common/secrets.js';
import type { DozenConfig } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';
import { BroadcastService } from './broadcast.service.js';
import { CLOSE_POLICY, Connection, type RoomBackend } from './hub/connection.js';
import { errorFrame } from './hub/frames.js';
import { PreAuthFrames, type PreAuthLimits } from './hub/pre-auth-frames.js';
import { resolveAccess, type AccessRules, type RoomAccess } from './hub/room-access.js';

/**
 * `/ws` on the admin port. Nest only wires it: the connection's frames go
 * straight to Connection and the Hub (no Nest message routing on the hot path).
 * The admin-token HTTP hook lets `/ws` through; the token is checked here, on connect.
 */
// autoPong off: the connection answers pings itself, within its send buffer bound (Connection.pong).
@WebSocketGateway({ path: '/ws', autoPong: false })
export class BroadcastGateway implements OnGatewayInit, OnGatewayConnection, OnModuleDestroy {
  private readonly connections = new Set<Connection>();
  /** Sockets open, authenticated or not, in all and per client address (broadcast.maxConnections, maxConnectionsPerAddress). */
  private open = 0;
  private readonly perAddress = new Map<string, number>();
  private heartbeat?: NodeJS.Timeout;
  private readonly log: Logger;
  private readonly backend: RoomBackend;
  private readonly pressureListeners: (() => void)[] = [];

  constructor(
    @InjectConfig() private readonly config: DozenConfig,
    private readonly service: BroadcastService,
    private readonly adminAuth: AdminAuth,
    private readonly live: LiveCallers,
    @InjectLogger() logger: Logger,
  ) {
    this.log = logger.child({ module: 'broadcast' });
    adminAuth.allowWithoutAdminToken('/ws');
    this.backend = {
      publish: (room, data, reservation) => service.publishFromClient(room, data, reservation),
      canRefill: service.bus !== null,
      refill: (room) => service.refill(room),
    };
  }

  afterInit(server: WebSocketServer): void {
    // ws reads these options at each upgrade.
    const options = (server as unknown as { options: ServerOptions }).options;
    // Frames above it close the socket with 1009.
    options.maxPayload = this.config.broadcast.maxFrameBytes;
    // The hub speaks no subprotocol: without this ws echoes the client's first offer (RFC 6455 4.2.2: only one the server supports).
    options.handleProtocols = () => false;
    options.verifyClient = (info: { req: IncomingMessage }, done: (verified: boolean, code?: number, message?: string) => void) => {
      const refusal = this.refusal(info.req);
      if (!refusal) return done(true);
      this.service.connectionsRefused.inc({ reason: refusal.reason });
      done(false, refusal.status, refusal.message);
    };
    const { pingSeconds, idleSeconds } = this.config.broadcast;
    this.heartbeat = setInterval(() => this.sweep(idleSeconds * 1000), pingSeconds * 1000);
    this.heartbeat.unref();
  }

  /**
   * Why an upgrade is refused before the handshake, or null: an HTTP/1.0 request (RFC 6455 4.1 asks for 1.1;
   * RFC 9110 7.8 has 1.0 servers ignore Upgrade), or the host's or the address's connections all taken (each
   * socket holds a descriptor the whole process shares: the admin API's and, under proxy.accept primary, the
   * proxy's listeners too).
   */
  private refusal(request: IncomingMessage): { status: number; reason: string; message: string } | null {
    const { maxConnections, maxConnectionsPerAddress } = this.config.broadcast;
    if (request.httpVersionMajor === 1 && request.httpVersionMinor === 0) return { status: 400, reason: 'http_version', message: 'Bad Request: a WebSocket upgrade needs HTTP/1.1' };
    if (this.open >= maxConnections) return { status: 503, reason: 'max_connections', message: 'Service Unavailable: too many WebSockets on this host (broadcast.maxConnections)' };
    if ((this.perAddress.get(this.adminAuth.clientAddress(request)) ?? 0) >= maxConnectionsPerAddress) {
      return { status: 429, reason: 'max_per_address', message: 'Too Many Requests: too many WebSockets from this address (broadcast.maxConnectionsPerAddress)' };
    }
    return null;
  }

  /** Counts a socket against the host's and its address's limits until it closes. */
  private countOpen(socket: WebSocket, request: IncomingMessage): void {
    const address = this.adminAuth.clientAddress(request);
    this.open += 1;
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    socket.once('close', () => {
      this.open -= 1;
      const left = this.perAddress.get(address)! - 1;
      if (left === 0) this.perAddress.delete(address);
      else this.perAddress.set(address, left);
    });
  }

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    this.countOpen(socket, request);
    this.replaceErrorLogging(socket);
    const pending = new PreAuthFrames(this.preAuthLimits());
    let connection: Connection | null = null;
    socket.on('message', (data, isBinary) => {
      if (connection) connection.receive(data, isBinary);
      else if (!pending.hold(data as Buffer, isBinary) && socket.readyState === 1) this.refuseEarlyFrames(socket, pending);
    });
    socket.on('ping', (data) => connection?.pong(data));
    socket.on('pong', () => connection && (connection.lastSeen = Date.now()));
    socket.on('close', () => {
      if (!connection) return;
      connection.detach();
      this.connections.delete(connection);
    });
    const rules: AccessRules = {
      isAdminToken: (token: string) => this.adminAuth.isAdmin(`Bearer ${token}`),
      jwtSecret: this.config.broadcast.jwtSecret,
      anonymous: this.config.broadcast.anonymous,
    };
    this.accessOf(request, rules).then((access) => {
      if (socket.readyState !== 1) return;
      if (!access) {
        socket.send(errorFrame('unauthorized', 'a valid token is required: Authorization: Bearer <admin token or JWT>, or ?token='));
        closeRefused(socket, 'unauthorized');
        return;
      }
      const limits = { sendBufferBytes: this.config.broadcast.sendBufferBytes, pressureBytes: this.pressureBytes() };
      connection = new Connection(socket, this.service.hub, access, limits, this.backend, {
        slow: () => {
          this.service.slowClients.inc();
          this.log.warn({ subject: access.subject }, 'client closed: send buffer full');
        },
        pressure: () => {
          for (const listener of this.pressureListeners) listener();
        },
        failed: (error) => this.log.error({ err: error, subject: access.subject }, 'handling a client frame failed: connection closed'),
      });
      this.connections.add(connection);
      if (access.caller) this.follow(socket, connection, access.caller, request);
      if (access.expiresAt !== undefined) closeAtExpiry(socket, connection, access.expiresAt);
      for (const [data, isBinary] of pending.take()) connection.receive(data, isBinary);
    }, (error: unknown) => {
      this.log.error({ err: error }, 'token check failed');
      closeRefused(socket, 'token check failed');
    });
  }

  /** The frames and bytes a client may send before its token is checked: by default one largest frame, in at most 32 frames. */
  private preAuthLimits(): PreAuthLimits {
    const { preAuthFrames, preAuthBytes, maxFrameBytes } = this.config.broadcast;
    return { frames: preAuthFrames, bytes: preAuthBytes ?? maxFrameBytes };
  }

  /** Closes (1008) a client that sent more than preAuthLimits before its token was checked; the others are not touched. */
  private refuseEarlyFrames(socket: WebSocket, pending: PreAuthFrames): void {
    const { frames, bytes } = this.preAuthLimits();
    this.service.earlyFramesRefused.inc();
    this.log.warn({ frames: pending.frames, bytes: pending.bytes, preAuthFrames: frames, preAuthBytes: bytes }, 'client sent too much before its token was checked: closing it');
    closeRefused(socket, 'too much sent before the token was checked');
  }

  /**
   * A user (session cookie, or a personal token) joins rooms with broadcast.read and publishes with
   * broadcast.publish, from the permission table; the admin token, JWTs and anonymous rules as before.
   */
  private async accessOf(request: IncomingMessage, rules: AccessRules): Promise<(RoomAccess & { caller?: Principal }) | null> {
    const token = tokenOf(request);
    if (token === undefined || this.adminAuth.isPersonalToken(token)) {
      const caller = await this.adminAuth.callerOf(request, token);
      if (caller) {
        const canJoin = this.adminAuth.allows(caller, 'broadcast.read');
        const canPublish = this.adminAuth.allows(caller, 'broadcast.publish');
        if (!canJoin) return null;
        return { subject: caller.name, canJoin: () => canJoin, canPublish: () => canPublish, caller };
      }
      if (token !== undefined) return null;
    }
    return resolveAccess(token, rules);
  }

  /** A user's socket is closed when its session or personal token ends or its user is disabled or changes role (LiveCallers). */
  private follow(socket: WebSocket, connection: Connection, caller: Principal, request: IncomingMessage): void {
    const token = tokenOf(request) ?? null;
    const tracked = this.live.track(connection, caller, () => this.adminAuth.currentCaller(caller, request, token));
    socket.once('close', tracked.untrack);
  }

  /**
   * Nest's WsAdapter logs every socket error at error level, and ws turns a
   * client's misbehaviour (a frame over maxPayload, bad UTF-8, a bad opcode)
   * into a socket error: any client could flood the error log. Those are the
   * client's fault, so they are counted and logged once per connection at warn.
   */
  private replaceErrorLogging(socket: WebSocket): void {
    socket.removeAllListeners('error');
    let logged = false;
    socket.on('error', (error: Error & { code?: string }) => {
      const oversize = error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
      if (oversize) this.service.oversizeFrames.inc();
      if (logged) return;
      logged = true;
      this.log.warn({ code: error.code, error: error.message, ...(oversize ? { maxFrameBytes: this.config.broadcast.maxFrameBytes } : {}) }, 'client connection error: closing it');
    });
  }

  onModuleDestroy(): void {
    clearInterval(this.heartbeat);
    for (const connection of this.connections) connection.close(1001, 'server shutting down');
  }

  /** Pings every client and drops those silent for longer than the idle timeout. */
  private sweep(idleMs: number): void {
    const now = Date.now();
    for (const connection of this.connections) {
      if (now - connection.lastSeen > idleMs) {
        connection.detach();
        connection.socket.terminate();
        this.connections.delete(connection);
      } else if (connection.socket.readyState === 1) {
        connection.socket.ping();
      }
    }
  }

  /** A client this far behind makes the binlog source pause (half its send buffer, so it never reaches the 1013 bound while reading). */
  pressureBytes(): number {
    return this.config.broadcast.sendBufferBytes / 2;
  }

  /** Called at once when a client passes `pressureBytes()`, so the binlog source pauses before the next event. */
  onPressure(listener: () => void): void {
    this.pressureListeners.push(listener);
  }

  /**
   * What the binlog source paces itself by: the unsent bytes of the slowest
   * healthy client, and of all clients. A client that has read nothing for
   * `stuckMs` while bytes wait for it is not healthy: it no longer holds the
   * reader back, and is closed with 1013 once its send buffer is full.
   */
  backlog(stuckMs: number, now = Date.now()): { slowest: number; total: number } {
    let slowest = 0;
    let total = 0;
    for (const connection of this.connections) {
      const buffered = connection.socket.bufferedAmount;
      total += buffered;
      if (buffered === 0 || buffered < connection.bufferedSeen) connection.progressAt = now;
      connection.bufferedSeen = buffered;
      if (now - connection.progressAt < stuckMs && buffered > slowest) slowest = buffered;
    }
    return { slowest, total };
  }
}

/**
 * A refused client has its close frame and a moment to answer it; ws would otherwise wait 30 s for the
 * answer, and a client that never gives one would hold the socket (a descriptor) that long for nothing.
 */
const REFUSED_CLOSE_MS = 2000;

function closeRefused(socket: WebSocket, reason: string): void {
  socket.close(CLOSE_POLICY, reason);
  const cut = setTimeout(() => socket.terminate(), REFUSED_CLOSE_MS);
  socket.once('close', () => clearTimeout(cut));
}

/** Longest delay a Node timer takes (about 24.8 days); a later expiry is waited for in such steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A socket opened with a token that expires (a JWT's `exp`) is closed when it does, as a user's socket is
 * when their session or personal token ends (CLOSE_CALLER_CHANGED); reconnecting with it is then refused.
 */
function closeAtExpiry(socket: WebSocket, connection: Connection, expiresAt: number): void {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const left = expiresAt - Date.now();
    if (left <= 0) return connection.close(CLOSE_CALLER_CHANGED, 'token expired');
    timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
  };
  arm();
  socket.once('close', () => clearTimeout(timer));
}

function tokenOf(request: IncomingMessage): string | undefined {
  const bearer = bearerOf(request.headers.authorization);
  if (bearer) return bearer;
  const query = new URL(request.url ?? '/', 'http://localhost').searchParams.get('token');
  return query || undefined;
}
