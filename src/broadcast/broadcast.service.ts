import { Injectable, type BeforeApplicationShutdown, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { BadInput, DomainError } from '../common/errors.js';
import { InjectLogger } from '../common/core.module.js';
import { Metrics } from '../common/metrics.js';
import type { DozenConfig } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';
import { RedisBus } from './bus/redis.bus.js';
import { BINLOG_ROOMS_READ_ONLY, isBinlogRoom, MAX_DATA_DEPTH, nestsDeeperThan, ROOM_NAME, ROOM_NAME_RULE, TOO_DEEP } from './hub/frames.js';
import { Hub, type Published, type RoomReservation, type RoomSummary } from './hub/hub.js';
import { RoomStore } from './store/room.store.js';

const IDEMPOTENCY_MS = 5 * 60 * 1000;
/** Rooms whose history aged out are looked for this often (or every historySeconds, when shorter). */
const SWEEP_MAX_SECONDS = 10;

export class HistoryGap extends DomainError {
  constructor(room: string, reason: string) {
    super(410, 'history_gap', `room ${room}: ${reason}; reload and continue from the room's current seq and epoch`, 'since');
  }
}

export class UnknownRoom extends DomainError {
  constructor(room: string) {
    super(404, 'not_found', `room ${room} does not exist: no message of it is kept and nobody is in it`, 'room');
  }
}

export class TooManyRooms extends DomainError {
  constructor(limit: number) {
    super(503, 'too_many_rooms', `${limit} rooms are open on this host (broadcast.maxRooms): try again once rooms are left`, 'room');
  }
}

export class BinlogRoomReadOnly extends DomainError {
  constructor(room: string) {
    super(403, 'forbidden', `may not publish to ${room}: ${BINLOG_ROOMS_READ_ONLY}`, 'room');
  }
}

/**
 * The broadcast module's service for everyone else (REST, GraphQL, the
 * binlog source, other modules): publish into a room, list rooms, read
 * history. Owns the one Hub of this process.
 */
@Injectable()
export class BroadcastService implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  readonly hub: Hub;
  /** Set when `broadcast.redis.url` is: rooms are shared with every host through Redis. */
  readonly bus: RedisBus | null;
  private readonly idempotent = new Map<string, { published: Promise<Published>; expires: number }>();
  readonly slowClients: Counter;
  readonly oversizeFrames: Counter;
  readonly earlyFramesRefused: Counter;
  readonly connectionsRefused: Counter<'reason'>;
  private sweeper?: NodeJS.Timeout;
  private keeper?: NodeJS.Timeout;

  private readonly log: Logger;

  constructor(
    @InjectConfig() private readonly config: DozenConfig,
    metrics: Metrics,
    readonly store: RoomStore,
    @InjectLogger() logger: Logger,
  ) {
    this.log = logger.child({ module: 'broadcast' });
    this.hub = new Hub({ messages: config.broadcast.historyMessages, seconds: config.broadcast.historySeconds, bytes: config.broadcast.historyBytes }, config.broadcast.maxRooms);
    const redis = config.broadcast.redis;
    // A room's keys in Redis outlive its history and the sweep that drops it from a hub (a hub must never hold a room
    // Redis forgot), then wait idleRoomSeconds for a client before they go.
    const roomKeySeconds = config.broadcast.historySeconds + this.sweepSeconds() + redis.idleRoomSeconds;
    this.bus = redis.url ? new RedisBus({ url: redis.url, password: redis.password, prefix: redis.prefix, historyMessages: config.broadcast.historyMessages, roomKeySeconds }) : null;
    const published = new Counter({ name: 'dozen_broadcast_messages_total', help: 'Messages published into rooms', registers: [metrics.registry] });
    const deliveries = new Counter({ name: 'dozen_broadcast_deliveries_total', help: 'Message frames handed to subscribers', registers: [metrics.registry] });
    this.slowClients = new Counter({ name: 'dozen_broadcast_slow_clients_total', help: 'Clients closed with 1013 because their send buffer was full', registers: [metrics.registry] });
    this.oversizeFrames = new Counter({ name: 'dozen_broadcast_oversize_frames_total', help: 'Client frames over maxFrameBytes (the connection is closed with 1009)', registers: [metrics.registry] });
    this.earlyFramesRefused = new Counter({
      name: 'dozen_broadcast_early_frames_refused_total',
      help: 'Clients closed with 1008 for sending more than preAuthFrames or preAuthBytes before their token was checked',
      registers: [metrics.registry],
    });
    this.connectionsRefused = new Counter({
      name: 'dozen_broadcast_connections_refused_total',
      help: 'WebSocket upgrades refused before the handshake: reason max_connections (broadcast.maxConnections), max_per_address (broadcast.maxConnectionsPerAddress) or http_version',
      labelNames: ['reason'],
      registers: [metrics.registry],
    });
    this.hub.onPublish((_room, count) => {
      published.inc();
      deliveries.inc(count);
    });
  }

  async onModuleInit(): Promise<void> {
    // A room nobody is in goes when its last message ages out of the history (the hub drops it on leave otherwise).
    this.sweeper = setInterval(() => this.hub.dropIdle(), this.sweepSeconds() * 1000);
    this.sweeper.unref();
    if (this.bus) {
      this.keepJoinedRooms(this.bus);
      await this.bus.listen(
        (message) => {
          // Every host refuses such data when it is published; one that reached Redis another way is skipped, not serialised.
          if (nestsDeeperThan(message.data, MAX_DATA_DEPTH)) throw new Error(`data ${TOO_DEEP}`);
          this.hub.accept(message.room, message.seq, message.data, message.ts, message.epoch);
        },
        (error, bytes) => this.log.warn({ err: error, bytes }, 'a message from the Redis bus was skipped'),
      );
      return;
    }
    // One host: rooms continue where they were (seq, epoch, history) from dozen's database.
    const { saveEveryMs, historySeconds } = this.config.broadcast;
    const rooms = await this.store.open(this.hub, { saveEveryMs, historySeconds, log: this.log });
    if (rooms) this.log.info({ rooms }, 'broadcast rooms restored');
  }

  private sweepSeconds(): number {
    return Math.min(this.config.broadcast.historySeconds, SWEEP_MAX_SECONDS);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.sweeper);
    clearInterval(this.keeper);
    await this.bus?.close();
  }

  /**
   * A room's keys in Redis expire once nobody uses it; while clients of this host are in it, this host gives
   * them their lifetime again every third of it. One refresh at a time: while Redis is away they would pile up.
   */
  private keepJoinedRooms(bus: RedisBus): void {
    let keeping = false;
    this.keeper = setInterval(() => {
      if (keeping) return;
      keeping = true;
      bus
        .keep(this.hub.joinedRooms())
        .catch((error: unknown) => this.log.warn({ err: error }, 'refreshing the Redis keys of joined rooms failed: retried'))
        .finally(() => (keeping = false));
    }, bus.keepEveryMs);
    this.keeper.unref();
  }

  /** After every module stopped publishing (the binlog source, the sockets), before the database closes. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.store.close();
  }

  /** Publishes `data` into `room` (never a db.* room: the binlog source writes those into the hub itself). With an idempotency key, a retry within 5 minutes returns the first result and publishes nothing. */
  async publish(room: string, data: unknown, idempotencyKey?: string): Promise<Published & { duplicate: boolean }> {
    assertRoom(room);
    if (isBinlogRoom(room)) throw new BinlogRoomReadOnly(room);
    if (nestsDeeperThan(data, MAX_DATA_DEPTH)) throw new BadInput('data', TOO_DEEP);
    const reservation = this.hub.reserve(room);
    if (!reservation) throw new TooManyRooms(this.hub.roomLimit);
    const now = Date.now();
    if (idempotencyKey) {
      this.forgetExpired(now);
      const seen = this.idempotent.get(`${room}\n${idempotencyKey}`);
      if (seen) {
        reservation.release();
        return { ...(await seen.published), duplicate: true };
      }
    }
    const published = this.publishHolding(room, data, now, reservation);
    if (idempotencyKey) this.idempotent.set(`${room}\n${idempotencyKey}`, { published, expires: now + IDEMPOTENCY_MS });
    return { ...(await published), duplicate: false };
  }

  /** Publishes for a WebSocket client: straight into the hub, or through the bus when there is one. */
  publishFromClient(room: string, data: unknown, reservation: RoomReservation): void {
    this.publishHolding(room, data, Date.now(), reservation).catch(() => undefined);
  }

  /**
   * Publishes into the hub, or through the bus; `reservation` holds the room's place among maxRooms meanwhile. The bus
   * hands the message to the hub later (Redis pub/sub), so the room is opened once Redis numbered it, in that place.
   */
  private publishHolding(room: string, data: unknown, now: number, reservation: RoomReservation): Promise<Published> {
    if (!this.bus) {
      try {
        return Promise.resolve(this.hub.publish(room, data, now));
      } finally {
        reservation.release();
      }
    }
    return this.bus.publish(room, data, now).then(
      (result) => {
        reservation.open();
        return result!;
      },
      (error: unknown) => {
        reservation.release();
        throw error;
      },
    );
  }

  /**
   * Fetches a room's history from the bus into this host's hub (a host that started after the messages).
   * False without a bus, and with `onlyKnown` for a room Redis does not know either (then nothing is created).
   */
  async refill(room: string, options: { onlyKnown?: boolean } = {}): Promise<boolean> {
    if (!this.bus) return false;
    // Before Redis is written: a room refused here must not be created there either.
    if (!options.onlyKnown && !this.hub.canOpen(room)) throw new TooManyRooms(this.hub.roomLimit);
    const known = await this.bus.history(room, { create: !options.onlyKnown });
    if (!known) return false;
    // Again where the room is opened: others may have been opened while Redis answered.
    if (!this.hub.canOpen(room)) throw new TooManyRooms(this.hub.roomLimit);
    this.hub.fill(room, known.seq, known.messages, known.epoch);
    return true;
  }

  rooms(): RoomSummary[] {
    return this.hub.list();
  }

  /**
   * Messages after `since` (of `epoch`); a `since` that cannot be resumed (older than the history, another epoch) is a
   * 410 history_gap, and a room that does not exist a 404: reading never creates a room.
   */
  async history(room: string, since = 0, epoch?: string): Promise<{ room: string; seq: number; epoch: string; messages: { seq: number; ts: number; data: unknown }[] }> {
    assertRoom(room);
    if (this.bus && !this.hub.loaded(room)) await this.refill(room, { onlyKnown: true });
    let history = this.hub.history(room, since, epoch);
    if (history?.gap && (await this.refill(room, { onlyKnown: true }))) history = this.hub.history(room, since, epoch);
    if (!history) throw new UnknownRoom(room);
    if (history.gap) throw new HistoryGap(room, history.gap);
    const messages = history.messages.map(({ seq, ts, frame }) => ({ seq, ts, data: (JSON.parse(frame.toString()) as { data: unknown }).data }));
    return { room, seq: history.seq, epoch: history.epoch, messages };
  }

  private forgetExpired(now: number): void {
    for (const [key, entry] of this.idempotent) {
      if (entry.expires > now) break; // insertion order is expiry order
      this.idempotent.delete(key);
    }
  }
}

export function assertRoom(room: string): void {
  if (!ROOM_NAME.test(room)) throw new BadInput('room', ROOM_NAME_RULE);
}
