import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import type { Published } from '../hub/hub.js';
import { newEpoch } from '../hub/room.js';

/** One message as the bus carries it between hosts. */
export interface BusMessage {
  room: string;
  seq: number;
  /** The room's epoch in Redis: a Redis that lost the room's keys starts a new one, so no client resumes across the loss. */
  epoch?: string;
  ts: number;
  data: unknown;
}

export interface RedisBusOptions {
  url: string;
  password?: string;
  /** Key and channel prefix, so several clusters can share one Redis. */
  prefix: string;
  historyMessages: number;
  /** How long a room's keys outlive its last message or the last refresh by a host with a client in it (`keep`). */
  roomKeySeconds: number;
}

/*
 * Per room, Redis holds `seq:<room>` (the last seq given), `history:<room>` (the last historyMessages messages)
 * and `epoch:<room>`. No host can tell safely when a room is free everywhere, so the three expire together, every
 * write setting their lifetime again: a publish, a host's first join, and every third of it for the rooms a host
 * has clients in (`keep`). The binlog source's rooms keep theirs (PERSIST): their seqs must survive, as on one
 * host, and there are only as many as tables. `dedupe:<source>` (the binlog position) is per source and stays.
 *
 * A room Redis does not hold whole (new, lost in a Redis restart, a key expired before the others) starts a new
 * epoch and drops what history is left, so no client resumes across the loss and no seq is given twice in one
 * epoch. A join creates `seq` with the epoch, so a missing `seq` always means a loss.
 */
const WHOLE_ROOM = `
local function wholeRoom(seqKey, historyKey, epochKey, newEpoch)
  local epoch = redis.call('GET', epochKey)
  if epoch and redis.call('EXISTS', seqKey) == 1 then return epoch, false end
  redis.call('SET', epochKey, newEpoch)
  redis.call('SET', seqKey, 0, 'NX')
  redis.call('DEL', historyKey)
  return newEpoch, true
end
`;

// Numbers, stores and fans out one message atomically, so seq order is publish order on every host.
// KEYS: seq counter, history list, channel, dedupe key (or ''), epoch. ARGV: room (JSON), ts, data (JSON), history size,
// dedupe position ('' for none), a new epoch in case the room needs one, the keys' lifetime in ms (0: keep them).
const PUBLISH_SCRIPT = `${WHOLE_ROOM}
if ARGV[5] ~= '' then
  local seen = redis.call('GET', KEYS[4])
  if seen and ARGV[5] <= seen then return {-1, ''} end
  redis.call('SET', KEYS[4], ARGV[5])
end
local epoch = wholeRoom(KEYS[1], KEYS[2], KEYS[5], ARGV[6])
local seq = redis.call('INCR', KEYS[1])
local keep = tonumber(ARGV[4])
if keep > 0 then
  redis.call('RPUSH', KEYS[2], '{"seq":' .. seq .. ',"ts":' .. ARGV[2] .. ',"data":' .. ARGV[3] .. '}')
  redis.call('LTRIM', KEYS[2], -keep, -1)
end
for _, key in ipairs({KEYS[1], KEYS[2], KEYS[5]}) do
  if ARGV[7] == '0' then redis.call('PERSIST', key) else redis.call('PEXPIRE', key, ARGV[7]) end
end
redis.call('PUBLISH', KEYS[3], '{"room":' .. ARGV[1] .. ',"seq":' .. seq .. ',"epoch":"' .. epoch .. '","ts":' .. ARGV[2] .. ',"data":' .. ARGV[3] .. '}')
return {seq, epoch}
`;

// Gives a room's keys their lifetime again, unless they have none (the binlog source's). KEYS: seq, history, epoch.
// ARGV: a new epoch to create the room with if Redis does not hold it whole ('': create nothing), lifetime in ms.
const KEEP_SCRIPT = `${WHOLE_ROOM}
local epoch, created = nil, false
if ARGV[1] ~= '' then epoch, created = wholeRoom(KEYS[1], KEYS[2], KEYS[3], ARGV[1]) end
if created or redis.call('PTTL', KEYS[3]) >= 0 then
  for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ARGV[2]) end
end
return 0
`;

type Scripts = {
  dozenPublish(...args: (string | number)[]): Promise<[number, string]>;
  dozenKeep(...args: (string | number)[]): Promise<number>;
};

/**
 * The several-hosts bus over Redis (ioredis): a counter and a capped list per
 * room for seqs and history, and one pub/sub channel that every host's hub
 * listens to. Every message, including this host's own, reaches the local
 * hub through the channel, so all hosts see one order per room.
 */
export class RedisBus {
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private readonly channel: string;

  constructor(private readonly options: RedisBusOptions) {
    const connection = { password: options.password, maxRetriesPerRequest: null, lazyConnect: false };
    // Loaded here: a host on the local bus never loads the Redis client.
    const { Redis } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
    this.commands = new Redis(options.url, connection);
    this.subscriber = new Redis(options.url, connection);
    this.channel = `${options.prefix}messages`;
    this.commands.defineCommand('dozenPublish', { numberOfKeys: 5, lua: PUBLISH_SCRIPT });
    this.commands.defineCommand('dozenKeep', { numberOfKeys: 3, lua: KEEP_SCRIPT });
  }

  private keys(room: string): [seq: string, history: string, epoch: string] {
    const prefix = this.options.prefix;
    return [`${prefix}seq:${room}`, `${prefix}history:${room}`, `${prefix}epoch:${room}`];
  }

  private get lifetimeMs(): number {
    return this.options.roomKeySeconds * 1000;
  }

  /** How often `keep` must run for the rooms a host has clients in: a third of the keys' lifetime, so one missed call loses nothing. */
  get keepEveryMs(): number {
    return this.lifetimeMs / 3;
  }

  /**
   * Subscribes; `handler` then gets every message of every room, in seq order per room. A message that
   * is not JSON, or that `handler` throws on, goes to `skipped` instead of out of ioredis's listener.
   */
  async listen(handler: (message: BusMessage) => void, skipped: (error: unknown, bytes: number) => void): Promise<void> {
    this.subscriber.on('message', (_channel: string, text: string) => {
      try {
        handler(JSON.parse(text) as BusMessage);
      } catch (error) {
        skipped(error, text.length);
      }
    });
    await this.subscriber.subscribe(this.channel);
  }

  /**
   * Publishes through Redis. With `dedupeKey`/`position` (sortable strings), a
   * position at or before the last one stored under that key is dropped and
   * resolves null: how the binlog source stays exactly-once across restarts.
   * Its rooms' keys never expire; everyone else's live `roomKeySeconds` from now.
   */
  async publish(room: string, data: unknown, ts: number, dedupe?: { key: string; position: string }): Promise<Published | null> {
    const [seqKey, historyKey, epochKey] = this.keys(room);
    const [seq] = await (this.commands as unknown as Scripts).dozenPublish(
      seqKey,
      historyKey,
      this.channel,
      `${this.options.prefix}dedupe:${dedupe ? dedupe.key : 'none'}`,
      epochKey,
      JSON.stringify(room),
      ts,
      JSON.stringify(data ?? null),
      this.options.historyMessages,
      dedupe?.position ?? '',
      newEpoch(),
      dedupe ? 0 : this.lifetimeMs,
    );
    return seq < 0 ? null : { room, seq, ts };
  }

  /**
   * The room's seq, epoch and the history kept in Redis (the last `historyMessages`), oldest first. With
   * `create`, a room Redis does not know gets its epoch now (so a client joining before the first message
   * already holds the one that stays) and its keys their lifetime again; without, such a room is null and
   * nothing is written.
   */
  async history(room: string, options: { create: boolean }): Promise<{ seq: number; epoch: string | undefined; messages: BusMessage[] } | null> {
    const [seqKey, historyKey, epochKey] = this.keys(room);
    const commands = this.commands.multi();
    if (options.create) (commands as unknown as Scripts).dozenKeep(seqKey, historyKey, epochKey, newEpoch(), this.lifetimeMs);
    const results = await commands.get(seqKey).get(epochKey).lrange(historyKey, 0, -1).exec();
    const failed = results!.find(([error]) => error);
    if (failed) throw failed[0];
    const [[, seq], [, epoch], [, entries]] = results!.slice(-3) as [[Error | null, string | null], [Error | null, string | null], [Error | null, string[]]];
    if (seq === null && epoch === null) return null;
    return { seq: Number(seq ?? 0), epoch: epoch ?? undefined, messages: entries.map((entry) => ({ room, ...(JSON.parse(entry) as Omit<BusMessage, 'room'>) })) };
  }

  /** Gives the keys of rooms still in use (a host has clients in them) their lifetime again; creates nothing. */
  async keep(rooms: string[]): Promise<void> {
    if (!rooms.length) return;
    const pipeline = this.commands.pipeline();
    for (const room of rooms) (pipeline as unknown as Scripts).dozenKeep(...this.keys(room), '', this.lifetimeMs);
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (failed) throw failed[0];
  }

  async ping(): Promise<string> {
    return this.commands.ping();
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
    this.commands.disconnect();
  }
}
