import { z } from 'zod';
import { listen } from '../config/listen.js';
import { DEFAULT_MAX_CONNECTIONS } from './engine.js';
import { tlsConfig } from './tls/tls.config.js';

const milliseconds = (fallback: number) => z.number({ error: 'expected milliseconds (a whole number)' }).int().min(1).default(fallback);

/** A literal IPv4/IPv6 address or a CIDR block (`10.0.0.0/8`, `::1`). */
const addressOrBlock = z
  .string()
  .regex(/^([0-9.]+|[0-9a-fA-F:.]+)(\/\d{1,3})?$/, 'expected an IP address or a CIDR block like 10.0.0.0/8');

export const proxyConfig = z
  .strictObject({
    /** The public listener; `:80` in production. */
    listen: listen('0.0.0.0', 8080),
    /**
     * Which engine serves: `fast` (llhttp on Node internals, near nginx), `portable` (node:http and undici,
     * public APIs), or `auto`: fast when its self-test passes at worker start, else portable with one warning.
     */
    engine: z.enum(['auto', 'fast', 'portable'], { error: 'expected auto, fast or portable' }).default('auto'),
    /** For tests: the fast engine's self-test fails, as on a Node whose internals moved (auto then falls back). */
    engineSelfTestFault: z.boolean().default(false),
    /** Worker processes serving the listener; 0 serves it inside the main process (no cluster). Default: CPU cores. */
    workers: z.number().int('expected a whole number').min(0).max(64).optional(),
    /**
     * How workers share the port (accept-mode.ts says what each costs): `kernel`, each on a socket of its own
     * (SO_REUSEPORT, Node 22.12 on, Linux); `shared`, one socket every worker accepts from; `primary`, the
     * primary accepts and hands connections round robin; `auto`, kernel where it can be, else primary.
     */
    accept: z.enum(['auto', 'kernel', 'shared', 'primary'], { error: 'expected auto, kernel, shared or primary' }).default('auto'),
    /** Deprecated: `false` is `accept: primary`. */
    reusePort: z.boolean().optional(),
    /** How many other backends a request is retried on after a connection failure. */
    retries: z.number().int().min(0).max(10).default(2),
    timeouts: z
      .strictObject({
        /** TCP connect to a backend. */
        connect: milliseconds(3_000),
        /** From the request sent to the backend's response headers. */
        headers: milliseconds(60_000),
        /** Longest silence while a body streams either way. */
        idle: milliseconds(120_000),
        /** A client must send a whole request head within this (slow-loris clients are cut with 408); after it, a request body must average 500 bytes a second. */
        clientHeaders: milliseconds(30_000),
        /** An idle keep-alive client connection is closed after this. */
        clientKeepAlive: milliseconds(65_000),
      })
      .prefault({}),
    /** Peers whose X-Forwarded-For / -Proto are believed (a load balancer in front of dozen). */
    trustedProxies: z.array(addressOrBlock).default([]),
    /**
     * Client connections each worker holds at once, TLS handshakes in progress included (nginx's
     * worker_connections): past it a new connection is closed as it is accepted, so a flood of idle
     * connections costs memory up to here and no further (the systemd unit allows a million descriptors).
     */
    maxConnections: z.number().int().min(1).max(1_000_000).default(DEFAULT_MAX_CONNECTIONS),
    /** Idle keep-alive connections each worker keeps to one backend (nginx's `keepalive`); past it a freed connection is closed. */
    upstreamConnections: z.number().int().min(1).max(10_000).default(128),
    /**
     * Connections each worker may have open to one backend at once, busy ones included (nginx's `max_conns`);
     * requests past it wait for one. 0, the default, is no limit, as in nginx: a limit lets slow clients (a
     * large body trickled in, a response read slowly) hold every connection and make everyone else wait.
     */
    upstreamMaxConnections: z.number().int().min(0).max(100_000).default(0),
    /** One pino line per request (host, app, backend, status, bytes, duration). */
    accessLog: z.boolean().default(true),
    /** HTTPS termination (tls/): absent, the proxy serves plain HTTP only. */
    tls: tlsConfig.optional(),
  })
  .prefault({});

export type ProxyConfig = z.output<typeof proxyConfig>;
