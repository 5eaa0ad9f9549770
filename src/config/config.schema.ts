import { accessSync, constants, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { accessConfig } from '../access/access.config.js';
import { broadcastConfig } from '../broadcast/broadcast.config.js';
import { deployConfig } from '../deploy/deploy.config.js';
import { proxyConfig } from '../proxy/proxy.config.js';
import { registryConfig } from '../registry/registry.config.js';
import { storageConfig } from '../storage/storage.config.js';
import { notifyConfig } from '../notify/notify.config.js';
import { hostsMayCollide, webListen } from './listen.js';
import { secret } from './secret.js';

export const MODULE_NAMES = ['proxy', 'registry', 'deploy', 'storage', 'broadcast'] as const;
export type ModuleName = (typeof MODULE_NAMES)[number];

const databaseUrl = z.string().refine((value) => {
  try {
    return ['mysql:', 'mariadb:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}, 'expected mysql://user@host:port/database (leave unset for the SQLite file under dataDir)');

export const configSchema = z.strictObject({
  host: z
    .strictObject({
      /** This host's name in the cluster; instances are placed on hosts by this name. */
      name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'expected a lower-case host name (a-z, 0-9, -)').default(defaultHostName()),
      /** The address other hosts and this host's containers reach it at (given to apps as DOZEN_HOST_IP). */
      address: z.string().min(1).default('127.0.0.1'),
    })
    .prefault({}),
  modules: z
    .array(z.enum(MODULE_NAMES, { error: `expected a list of: ${MODULE_NAMES.join(', ')}` }))
    // An empty list (DOZEN_MODULES= left blank) ran nothing, and /health said up.
    .min(1, `list at least one of: ${MODULE_NAMES.join(', ')}`)
    .default([...MODULE_NAMES])
    .transform((names) => [...new Set(names)]),
  dataDir: z.string().min(1).default('./data'),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** `auto`: readable lines (time, level, module, message) when stdout is a terminal, JSON lines otherwise. */
      format: z.enum(['auto', 'pretty', 'json']).default('auto'),
    })
    .prefault({}),
  admin: z
    .strictObject({
      listen: webListen('127.0.0.1', 7700),
      /** Bearer token for the admin API. Unset: one is generated into `<dataDir>/admin-token` at first start. */
      token: secret().optional(),
      /**
       * Peers (addresses or CIDR blocks) whose X-Forwarded-For and X-Forwarded-Proto are believed: a TLS
       * proxy in front of the admin port. The client address (login limits, audit) and whether the
       * session cookie is Secure come from them.
       */
      trustedProxies: z.array(z.string().min(1)).default([]),
      /**
       * Origins (`https://console.example.net`) whose pages may use the session cookie besides the admin
       * API's own (the Host it was asked by): a console served from another name. Others get 403 (REST)
       * or no session (WebSockets): an app's page on the same site must not act as the logged-in user.
       */
      allowedOrigins: z.array(z.url({ protocol: /^https?$/, error: 'expected an origin such as https://console.example.net' })).default([]),
    })
    .prefault({}),
  database: z
    .strictObject({
      /** MySQL/MariaDB for several hosts; unset means SQLite at `<dataDir>/dozen.sqlite`. */
      url: databaseUrl.optional(),
      password: secret().optional(),
      /** better-sqlite3's compiled addon to load instead of the installed one: a build for another Node line (the test bench runs dozen on Node 22 and 24 this way). */
      sqliteBinding: z
        .string()
        .min(1)
        // Checked here: a wrong path passed config check, then serve retried the database for 30 s with a stack each time.
        .superRefine((path, context) => {
          const problem = unreadableFile(path);
          if (problem) context.addIssue({ code: 'custom', message: `${problem}: expected a better-sqlite3 addon (better_sqlite3.node)` });
        })
        .optional(),
    })
    // Refused rather than one silently winning: tools disagree on which (TypeORM and libpq take the URL's,
    // others the separate one), and a rotated secret that is never used fails only at the next reconnect.
    .refine((database) => !(database.url && database.password && URL.parse(database.url)?.password), {
      path: ['password'],
      message: 'database.url holds a password too: give it in one place, database.password (or passwordFile, DOZEN_DATABASE_PASSWORD) or the URL',
    })
    .prefault({}),
  proxy: proxyConfig,
  registry: registryConfig,
  deploy: deployConfig,
  storage: storageConfig,
  broadcast: broadcastConfig,
  access: accessConfig,
  notify: notifyConfig,
}).superRefine((config, context) => {
  // The proxy reads its routes from the registry module of its own process.
  if (config.modules.includes('proxy') && !config.modules.includes('registry')) {
    context.addIssue({ code: 'custom', path: ['modules'], message: 'the proxy module needs the registry module on the same host: add registry to modules' });
  }
  // The deploy agent registers containers and reads its desired state through the registry of its own process.
  if (config.modules.includes('deploy') && !config.modules.includes('registry')) {
    context.addIssue({ code: 'custom', path: ['modules'], message: 'the deploy module needs the registry module on the same host: add registry to modules' });
  }
  // Two of dozen's own listeners on one socket: config check passed and serve died with EADDRINUSE.
  const listeners = ownListeners(config);
  listeners.forEach((listener, index) => {
    const taken = listeners.slice(0, index).find((earlier) => earlier.port === listener.port && hostsMayCollide(earlier.host, listener.host));
    if (!taken) return;
    // `value`: the port may be a default, absent from what was written (config/load-config.ts shows it then).
    context.addIssue({
      code: 'custom', path: [...listener.key.split('.'), 'port'], params: { value: listener.port },
      message: `${taken.key} is on ${taken.host}:${taken.port} too, and ${listener.host}:${listener.port} cannot take the same port: pick another`,
    });
  });
});

export type DozenConfig = z.output<typeof configSchema>;

/** The listeners this config opens, by the key that sets each; the proxy's only where it runs. */
function ownListeners(config: DozenConfig): { key: string; host: string; port: number }[] {
  const listeners = [{ key: 'admin.listen', ...config.admin.listen }];
  if (config.modules.includes('proxy')) {
    listeners.push({ key: 'proxy.listen', ...config.proxy.listen });
    if (config.proxy.tls) listeners.push({ key: 'proxy.tls.listen', ...config.proxy.tls.listen });
  }
  return listeners;
}

/** Why `path` is not a file this process can read, or null when it is. */
function unreadableFile(path: string): string | null {
  try {
    if (!statSync(path).isFile()) return 'not a file';
    accessSync(path, constants.R_OK);
    return null;
  } catch (error) {
    return `cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

function defaultHostName(): string {
  const name = hostname().toLowerCase().split('.')[0].replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '');
  return name || 'localhost';
}
