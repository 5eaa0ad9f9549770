import { z } from 'zod';

/**
 * The wire protocol of `/ws`: one JSON object per text frame, `type` says what it is.
 *
 * client -> server: join {room, since?, epoch?}, leave {room}, publish {room, data}, ping
 * server -> client: message {room, seq, data, ts}, joined {room, seq, epoch}, left {room},
 *                   error {code, message, room?}, pong
 */
/** `$`, `%` and letters and digits of any script too: every MySQL table has a room a client can join (binlog/identifiers.ts). */
export const ROOM_NAME = /^[A-Za-z0-9_.:@$%\p{L}\p{M}\p{N}-]{1,200}$/u;
export const ROOM_NAME_RULE = 'a room name is 1-200 characters of A-Z a-z 0-9 _ . : @ - $ % and letters and digits of any script';
const room = z.string().regex(ROOM_NAME, ROOM_NAME_RULE);

/** `db.<schema>.<table>`: row changes, which apps act on (a rebate per order), so only the binlog source writes them. */
export const BINLOG_ROOM_PREFIX = 'db.';
export const BINLOG_ROOMS_READ_ONLY = 'db.* rooms carry row changes and are written only by the binlog source';

/** In any case: `DB.shop.orders` is another room, but one a reader would take for the binlog's. */
export function isBinlogRoom(roomName: string): boolean {
  return roomName.slice(0, BINLOG_ROOM_PREFIX.length).toLowerCase() === BINLOG_ROOM_PREFIX;
}

/**
 * How deep a message's data may nest arrays and objects. JSON.parse takes any depth, but
 * JSON.stringify recurses: 5,000 levels (10 KB) overflow the stack when the message is serialised.
 */
export const MAX_DATA_DEPTH = 64;
export const TOO_DEEP = `nests arrays and objects more than ${MAX_DATA_DEPTH} levels deep`;

/** Whether `value` nests arrays and objects more than `limit` levels deep; iterative, so the check itself cannot overflow. */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: [object, number][] = typeof value === 'object' && value !== null ? [[value, 1]] : [];
  while (pending.length) {
    const [item, depth] = pending.pop()!;
    if (depth > limit) return true;
    for (const child of Object.values(item)) if (typeof child === 'object' && child !== null) pending.push([child, depth + 1]);
  }
  return false;
}

const data = z.unknown().refine((value) => !nestsDeeperThan(value, MAX_DATA_DEPTH), TOO_DEEP);

export const clientFrame = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('join'), room, since: z.number().int().min(0).optional(), epoch: z.string().min(1).max(64).optional() }),
  z.strictObject({ type: z.literal('leave'), room }),
  z.strictObject({ type: z.literal('publish'), room, data }),
  z.strictObject({ type: z.literal('ping') }),
]);
export type ClientFrame = z.output<typeof clientFrame>;

export type ErrorCode = 'bad_frame' | 'forbidden' | 'history_gap' | 'unauthorized' | 'not_joined' | 'too_many_rooms' | 'internal';

export function errorFrame(code: ErrorCode, message: string, roomName?: string): string {
  return JSON.stringify({ type: 'error', code, message, ...(roomName ? { room: roomName } : {}) });
}

export function joinedFrame(roomName: string, seq: number, epoch: string): string {
  return JSON.stringify({ type: 'joined', room: roomName, seq, epoch });
}

export function leftFrame(roomName: string): string {
  return JSON.stringify({ type: 'left', room: roomName });
}

export const PONG_FRAME = '{"type":"pong"}';

/** Serialised once per message; every subscriber gets the same bytes. */
export function messageFrame(roomName: string, seq: number, data: unknown, ts: number): Buffer {
  return Buffer.from(JSON.stringify({ type: 'message', room: roomName, seq, data, ts }));
}

/** Parses one client frame; returns a human message naming the problem instead of throwing. */
export function parseClientFrame(text: string): ClientFrame | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'a frame is one JSON object';
  }
  const result = clientFrame.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  return `${issue.path.join('.') || 'frame'}: ${issue.message}`;
}
