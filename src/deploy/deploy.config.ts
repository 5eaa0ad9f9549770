import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { secret } from '../config/secret.js';

const portRange = z
  .string()
  .regex(/^\d{1,5}-\d{1,5}$/, 'expected FIRST-LAST, e.g. 20000-29999')
  .refine((value) => {
    const [first, last] = value.split('-').map(Number);
    return first >= 1024 && last <= 65535 && first <= last;
  }, 'expected 1024 <= FIRST <= LAST <= 65535');

/** A PEM file of CA certificates, read at start so a wrong path stops the start instead of every build. */
const caFile = z.string().min(1).refine((path) => {
  try {
    return readFileSync(path, 'utf8').includes('-----BEGIN CERTIFICATE-----');
  } catch {
    return false;
  }
}, 'expected a readable PEM file of CA certificates');

/**
 * What a container keeps of root's powers. It runs on the host's network, so NET_RAW would let it read
 * the loopback traffic of everything on the host (admin tokens, session cookies) and NET_BIND_SERVICE
 * bind the host's ports below 1024; none of Docker's defaults that only an image's own start-up may
 * want (changing owners and users, signals) are dangerous there.
 */
const DEFAULT_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID'];

const runtimeDefaults = { nodejs: { baseImage: 'node:22-bookworm-slim' }, 'php-laravel': { baseImage: 'php:8.2-cli-bookworm' } };

export const deployConfig = z
  .strictObject({
    docker: z
      .strictObject({
        /** The Docker Engine API socket this host's agent drives. */
        socketPath: z.string().min(1).default('/var/run/docker.sock'),
      })
      .prefault({}),
    /** AES-256-GCM key (32 bytes, base64) for app secrets at rest. Unset: generated into `<dataDir>/deploy-secrets-key` on first start. */
    secretsKey: secret().optional(),
    /** Host ports the agent hands to containers (host networking), each checked free first. */
    portRange: portRange.default('20000-29999'),
    /**
     * Where an app's fixed `port` may lie (an image that listens on a port of its own); unset: portRange.
     * Never one of dozen's own ports, whatever the range.
     */
    fixedPortRange: portRange.optional(),
    /** How long a replaced container keeps serving what it already accepted after it left the registry. */
    drainSeconds: z.number().min(0).max(600).default(5),
    /** A new container must answer its health path within this, or it is `unhealthy`. */
    healthTimeoutSeconds: z.number().min(1).max(3600).default(60),
    buildTimeoutSeconds: z.number().min(10).max(7200).default(900),
    /** How often the agent reconciles even when nothing changed (catches what a watch missed). */
    resyncSeconds: z.number().min(1).max(3600).default(30),
    /** Ready releases per app whose images are kept (Engines and object store) for rollback; older ones are removed. */
    keepReleases: z.number().int().min(1).max(100).default(5),
    /** Shipping each managed container's output to the object store (`logs/<app>/<host>/<date>.log`) through the Engine API. */
    logs: z
      .strictObject({
        ship: z.boolean().default(true),
        /** A batch goes this long after its first line at the latest (sooner when it reaches 256 KB). */
        flushMs: z.number().int().min(10).max(60_000).default(1000),
      })
      .prefault({}),
    /** How containers are confined (builds: what the Engine's build API allows, their memory). */
    containers: z
      .strictObject({
        /** Linux capabilities kept (without CAP_); all others are dropped. */
        capabilities: z.array(z.string().regex(/^[A-Z][A-Z_]*$/, 'expected a capability name such as CHOWN (no CAP_ prefix)')).default(DEFAULT_CAPABILITIES),
        /** Processes (threads included) one container may run: a fork bomb stops there. */
        pidsLimit: z.number().int().min(16).max(4_194_304).default(1024),
        /** Memory of a container whose app sets no memoryMb of its own. */
        memoryMb: z.number().int().min(16).max(1024 * 1024).default(1024),
        /** Memory of a build's steps. */
        buildMemoryMb: z.number().int().min(64).max(1024 * 1024).default(4096),
        /**
         * The network a build's steps run on. `default` is the Engine's default network (its bridge, with the
         * internet behind NAT; only loopback where the daemon has no bridge): a network namespace of the build's
         * own. `host` gives the steps the host's network with root's default capabilities (NET_RAW: reading
         * every loopback connection on the host), which the build API cannot drop; `none`, no network at all.
         */
        buildNetwork: z.enum(['default', 'host', 'none']).default('default'),
      })
      .prefault({}),
    /** How builds fetch the app's repository. */
    git: z
      .strictObject({
        /** CA certificates git trusts for https repositories instead of the system's (a git server with a private CA). */
        caFile: caFile.optional(),
        /**
         * `file://` repositories: a path on the build host. Off, since whoever may change an app's repository
         * (deploy.write) could otherwise build any git repository this host's dozen user can read into an image.
         */
        allowFile: z.boolean().default(false),
      })
      .prefault({}),
    /** Base images of the runtime templates: nothing is pulled, so these must be on the host (or pullable by it). */
    runtimes: z
      .strictObject({
        nodejs: z.strictObject({ baseImage: z.string().min(1).default(runtimeDefaults.nodejs.baseImage) }).default(runtimeDefaults.nodejs),
        /** Needs php and sh; composer too for apps whose composer.json requires packages (the official php images have none). */
        'php-laravel': z.strictObject({ baseImage: z.string().min(1).default(runtimeDefaults['php-laravel'].baseImage) }).default(runtimeDefaults['php-laravel']),
      })
      .default(runtimeDefaults),
  })
  .prefault({});
