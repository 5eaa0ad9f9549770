import { Redis } from 'ioredis';
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
}

// Numbers, stores and fans out one message atomically, so seq order is publish order on every host.
// KEYS: seq counter, history list, channel, dedupe key (or ''), epoch. ARGV: room (JSON), ts, data (JSON), history size,
// dedupe position ('' for none), a new epoch in case the room has none (first message, or Redis lost the room).
const PUBLISH_SCRIPT = `
if ARGV[5] ~= '' then
  local seen = redis.call('GET', KEYS[4])
  if seen and ARGV[5] <= seen then return {-1, ''} end
  redis.call('SET', KEYS[4], ARGV[5])
end
local epoch = redis.call('GET', KEYS[5])
if not epoch then
  epoch = ARGV[6]
  redis.call('SET', KEYS[5], epoch)
end
local seq = redis.call('INCR', KEYS[1])
local keep = tonumber(ARGV[4])
if keep > 0 then
  redis.call('RPUSH', KEYS[2], '{"seq":' .. seq .. ',"ts":' .. ARGV[2] .. ',"data":' .. ARGV[3] .. '}')
  redis.call('LTRIM', KEYS[2], -keep, -1)
end
redis.call('PUBLISH', KEYS[3], '{"room":' .. ARGV[1] .. ',"seq":' .. seq .. ',"epoch":"' .. epoch .. '","ts":' .. ARGV[2] .. ',"data":' .. ARGV[3] .. '}')
return {seq, epoch}
`;

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
    this.commands = new Redis(options.url, connection);
    this.subscriber = new Redis(options.url, connection);
    this.channel = `${options.prefix}messages`;
    this.commands.defineCommand('dozenPublish', { numberOfKeys: 5, lua: PUBLISH_SCRIPT });
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
   */
  async publish(room: string, data: unknown, ts: number, dedupe?: { key: string; position: string }): Promise<Published | null> {
    const prefix = this.options.prefix;
    const [seq] = await (this.commands as unknown as { dozenPublish(...args: (string | number)[]): Promise<[number, string]> }).dozenPublish(
      `${prefix}seq:${room}`,
      `${prefix}history:${room}`,
      this.channel,
      dedupe ? `${prefix}dedupe:${dedupe.key}` : `${prefix}dedupe:none`,
      `${prefix}epoch:${room}`,
      JSON.stringify(room),
      ts,
      JSON.stringify(data ?? null),
      this.options.historyMessages,
      dedupe?.position ?? '',
      newEpoch(),
    );
    return seq < 0 ? null : { room, seq, ts };
  }

  /**
   * The room's seq, epoch and the history kept in Redis (the last `historyMessages`), oldest first. With
   * `create`, a room Redis does not know gets its epoch now (so a client joining before the first message
   * already holds the one that stays); without, such a room is null and nothing is written.
   */
  async history(room: string, options: { create: boolean }): Promise<{ seq: number; epoch: string | undefined; messages: BusMessage[] } | null> {
    const prefix = this.options.prefix;
    const commands = this.commands.multi();
    if (options.create) commands.set(`${prefix}epoch:${room}`, newEpoch(), 'NX');
    const results = await commands.get(`${prefix}seq:${room}`).get(`${prefix}epoch:${room}`).lrange(`${prefix}history:${room}`, 0, -1).exec();
    const [[, seq], [, epoch], [, entries]] = results!.slice(-3) as [[Error | null, string | null], [Error | null, string | null], [Error | null, string[]]];
    if (seq === null && epoch === null) return null;
    return { seq: Number(seq ?? 0), epoch: epoch ?? undefined, messages: entries.map((entry) => ({ room, ...(JSON.parse(entry) as Omit<BusMessage, 'room'>) })) };
  }

  async ping(): Promise<string> {
    return this.commands.ping();
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
    this.commands.disconnect();
  }
}
