import { z } from 'zod';
import { secret } from '../config/secret.js';

const roomPatterns = z.array(z.string().min(1)).default([]);

export const binlogConfig = z
  .strictObject({
    /** Read the MySQL/MariaDB binlog and publish every row change into `db.<schema>.<table>`. */
    enabled: z.boolean().default(false),
    /** The server to read as a replica: mysql://user@host:port/ (the user needs REPLICATION SLAVE, REPLICATION CLIENT, SELECT). */
    url: z.string().regex(/^(mysql|mariadb):\/\//, 'expected mysql://user@host:port/').optional(),
    password: secret().optional(),
    /** The replica id dozen uses on that server; unique among its replicas. */
    serverId: z.number().int().min(1).max(4294967295).default(7700),
    /** Schemas or tables to publish (`shop` or `shop.orders`); empty means all. */
    include: z.array(z.string().min(1)).default([]),
    /** Schemas or tables never published; wins over include. */
    exclude: z.array(z.string().min(1)).default([]),
    /** How often the published-up-to position is written to dozen's database. */
    checkpointMs: z.number().int().min(10).max(60_000).default(200),
    /** Pause reading the binlog while the hub holds more than this many bytes unsent to all subscribers together (it also pauses while any one healthy subscriber has half its sendBufferBytes unsent). */
    pauseAboveBytes: z.number().int().min(1024).default(64 * 1024 * 1024),
    /** A subscriber that reads nothing for this long no longer holds the reader back (it is closed with 1013 once its send buffer is full). */
    stuckClientSeconds: z.number().int().min(1).default(10),
    /** How often the server's settings (binlog_format, row image, grants) are checked again while reading, and a refused start retried. */
    recheckSeconds: z.number().int().min(1).max(3600).default(10),
  })
  .prefault({});

export const broadcastConfig = z
  .strictObject({
    /** At most this many messages kept per room for `join {since}` and the history endpoint (0: no history). */
    historyMessages: z.number().int().min(0).max(10_000_000).default(100_000),
    /** At most this many frame bytes kept per room: what bounds memory and the database (a bulk change of 30,000 rows fits). */
    historyBytes: z.number().int().min(0).default(32 * 1024 * 1024),
    /** Messages older than this are dropped from the history. */
    historySeconds: z.number().int().min(1).default(300),
    /** How often new messages and room positions are written to dozen's database (one transaction). A crash loses at most this last stretch; clients that saw it get a history_gap. */
    saveEveryMs: z.number().int().min(5).max(10_000).default(50),
    /** Rooms clients may open on this host (join, publish); one more is refused with too_many_rooms. Rooms go when nobody is in them and their history aged out; the binlog source's rooms are never refused. */
    maxRooms: z.number().int().min(1).default(10_000),
    /** Largest frame a client may send; bigger ones close the connection with 1009. */
    maxFrameBytes: z.number().int().min(256).default(64 * 1024),
    /** Frames a client may send before its token is checked (they wait for the check); one more closes it with 1008. */
    preAuthFrames: z.number().int().min(1).max(10_000).default(32),
    /** Bytes a client may send before its token is checked; more closes it with 1008. Default: maxFrameBytes, so one largest frame always fits. */
    preAuthBytes: z.number().int().min(256).optional(),
    /** Bytes queued for one client before it is closed with 1013 (too slow); the others are not slowed. */
    sendBufferBytes: z.number().int().min(1024).default(1024 * 1024),
    /** WebSockets this host's hub holds at once; one more is refused before the handshake with 503. */
    maxConnections: z.number().int().min(1).default(10_000),
    /** WebSockets from one client address (behind a proxy: admin.trustedProxies says whose X-Forwarded-For counts); one more is refused with 429. */
    maxConnectionsPerAddress: z.number().int().min(1).default(1000),
    /** The server pings every client this often... */
    pingSeconds: z.number().int().min(1).default(25),
    /** ...and closes a client it heard nothing from (no frame, no pong) for this long. */
    idleSeconds: z.number().int().min(2).default(60),
    /** HS256 key for client JWTs (claims `join` and `publish`: lists of room patterns such as `db.shop.*`). */
    jwtSecret: secret().optional(),
    /** Room patterns a client without a token may join / publish to; empty (the default) refuses anonymous clients. */
    anonymous: z.strictObject({ join: roomPatterns, publish: roomPatterns }).prefault({}),
    /** Several hosts: a Redis for live messages, seqs and history shared by every host's hub. Off while `url` is unset. */
    redis: z
      .strictObject({
        url: z.string().regex(/^rediss?:\/\//, 'expected redis://host:6379').optional(),
        password: secret().optional(),
        prefix: z.string().min(1).default('dozen:broadcast:'),
        /** A room's keys (seq, history, epoch) are deleted by Redis this long after the room was last in use: no host had a client in it and its last message aged out of the history (historySeconds). The binlog source's rooms keep theirs. */
        idleRoomSeconds: z.number().int().min(1).max(30 * 24 * 3600).default(60),
      })
      .prefault({}),
    binlog: binlogConfig,
  })
  .superRefine((broadcast, context) => {
    // Smaller would close a client for one frame sent early that is allowed a moment later.
    if (broadcast.preAuthBytes !== undefined && broadcast.preAuthBytes < broadcast.maxFrameBytes) {
      context.addIssue({ code: 'custom', path: ['preAuthBytes'], message: 'must be at least maxFrameBytes: one largest frame must fit before the token is checked' });
    }
  })
  .prefault({});

export type BroadcastConfig = z.output<typeof broadcastConfig>;
