import { randomUUID } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { AccessGuard } from './access/access.guard.js';
import { AppModule } from './app.module.js';
import { AuditRecorder } from './audit/audit-recorder.js';
import { AdminAuth } from './common/admin-auth.js';
import { adminToken } from './common/admin-token.js';
import { toHttp } from './common/errors.js';
import { refuseLongGraphqlQuery } from './common/graphql-limits.js';
import { keepGraphqlPathIndices } from './common/graphql-response-schema.js';
import { securityHeaders } from './common/security-headers.js';
import { GatewayWsAdapter, routeUpgrades } from './common/ws-upgrades.js';
import { isConsolePath, serveConsole } from './console/console-static.js';
import { createLogger, PinoNestLogger } from './common/logger.js';
import type { DozenConfig } from './config/config.schema.js';
import { VERSION } from './common/version.js';
import { redactQuerySecrets } from './common/query-secrets.js';
import { privateDataDir } from './common/data-dir.js';
import { assertSqliteLoads } from './database/data-source.js';

const SHUTDOWN_GRACE_MS = 10_000;

/** Starts dozen on this host: the admin server and every module `modules` turns on. Resolves once listening. */
export async function serve(config: DozenConfig, configFile: string | null): Promise<NestFastifyApplication> {
  assertSqliteLoads(config);
  const logger = createLogger(config.log);
  // From the first moment: a stop while the modules start (proxy workers forked, not yet told what to serve) ends them too.
  const shutdown = new Shutdown(logger);
  const openMode = privateDataDir(config.dataDir);
  if (openMode !== null) logger.warn({ dataDir: config.dataDir, was: openMode.toString(8), now: (openMode & 0o700).toString(8) }, 'the data dir was open to other users: made private');
  const adapter = new FastifyAdapter({
    loggerInstance: logger.child({ component: 'admin-http' }, { serializers: { req: requestForLog } }) as never,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    bodyLimit: 16 * 1024 * 1024,
    forceCloseConnections: 'idle',
    // A path Fastify cannot decode (`%FF%FE`) is refused by its router before any error handler: the same body as every 400.
    frameworkErrors: (error: Error, _request: unknown, reply: FastifyReply) => void reply.status(400).type('application/json').send({ error: 'bad_request', message: `url: ${error.message}`, field: 'url' }),
    // request.ip and request.protocol follow X-Forwarded-* only from these peers.
    trustProxy: config.admin.trustedProxies.length ? config.admin.trustedProxies : false,
  });
  const app = await NestFactory.create<NestFastifyApplication>(await AppModule.forRoot(config, logger), adapter, {
    logger: new PinoNestLogger(logger.child({ component: 'nest' })),
  });
  if (shutdown.attach(app)) return app;
  // WebSocket gateways (broadcast's /ws) share the admin http server; frames are parsed by the gateway itself.
  const gateways = new GatewayWsAdapter(app, { messageParser: () => undefined });
  app.useWebSocketAdapter(gateways);

  const access = app.get(AccessGuard);
  // Nest adds its routes (and Mercurius /graphql) at listen; the table of what is served is kept from here.
  app.getHttpAdapter().getInstance().addHook('onRoute', access.onRoute);
  app.getHttpAdapter().getInstance().addHook('onRoute', keepGraphqlPathIndices);
  const auth = app.get(AdminAuth);
  const { token, file: tokenFile } = adminToken(config);
  auth.setToken(token);
  auth.allowOrigins(config.admin.allowedOrigins);
  // WebSocket upgrades reach AdminAuth without Fastify: it decides their transport from the same proxies.
  auth.trustProxies(config.admin.trustedProxies);
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  // No framing of the console or the API, and nothing the API answers runs as a page.
  fastify.addHook('onRequest', securityHeaders(isConsolePath));
  fastify.addHook('onRequest', auth.hook);
  // After the caller is known: may it call this route? (GraphQL fields are decided per field.)
  fastify.addHook('onRequest', access.hook);
  fastify.addHook('preHandler', auth.preHandler);
  // A GraphQL document too long to parse cheaply is refused before Mercurius parses it.
  fastify.addHook('preValidation', refuseLongGraphqlQuery);
  // Every REST mutation, with its outcome, to the one audit trail.
  fastify.addHook('onResponse', app.get(AuditRecorder).onResponse);
  // Errors Fastify raises before any Nest handler runs (malformed JSON, body too large) do not pass
  // Nest's filters; give them the same {error, message} body. Fastify binds each route to the error
  // handler of the time it is added, so this one, set before Nest adds its routes, serves them all;
  // Nest's own, set after its routes, would reach none and only make Fastify warn (FSTWRN004) at
  // every start, so Nest's call is a no-op.
  fastify.setErrorHandler(async (error, request, reply) => {
    const [status, body] = toHttp(error);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    await reply.status(status).type('application/json').send(body);
  });
  adapter.setErrorHandler = () => fastify;
  await serveConsole(fastify, auth);

  await app.listen(config.admin.listen.port, config.admin.listen.host);
  routeUpgrades(app.getHttpServer(), gateways, ['/ws']);

  const base = `http://${config.admin.listen.host.includes(':') ? `[${config.admin.listen.host}]` : config.admin.listen.host}:${config.admin.listen.port}`;
  logger.info({ version: VERSION, host: config.host.name, modules: config.modules, config: configFile ?? '(defaults)', admin: base }, 'dozen started');
  if (process.stdout.isTTY || process.env.npm_lifecycle_event === 'start') {
    process.stderr.write(
      `\ndozen ${VERSION} on ${config.host.name}: modules ${config.modules.join(', ')}\n` +
        `  console     ${base}/\n` +
        `  admin API   ${base}  (health: ${base}/health, GraphQL: ${base}/graphql)\n` +
        (config.modules.includes('proxy') ? `  proxy       http://${config.proxy.listen.host}:${config.proxy.listen.port}  (routes by Host header)\n` : '') +
        `  admin token ${tokenFile ? `in ${tokenFile}` : 'from config'}\n\n`,
    );
  }
  return app;
}

/**
 * SIGTERM/SIGINT: stop accepting, let in-flight requests finish, close modules and the database, exit 0.
 * Listening from the start of `serve`: a signal while the modules are still starting waits for them
 * (Nest cannot close a half-made application), then closes it, within the same grace.
 */
class Shutdown {
  private app: NestFastifyApplication | null = null;
  private signal: NodeJS.Signals | null = null;

  constructor(private readonly logger: Logger) {
    process.once('SIGTERM', this.requested);
    process.once('SIGINT', this.requested);
  }

  /** The application is made; true when a signal came while it was being made (it is closing now). */
  attach(app: NestFastifyApplication): boolean {
    this.app = app;
    if (this.signal) this.close();
    return this.signal !== null;
  }

  private readonly requested = (signal: NodeJS.Signals): void => {
    if (this.signal) return;
    this.signal = signal;
    this.logger.info({ signal, starting: this.app === null || undefined }, 'shutting down');
    const force = setTimeout(() => {
      this.logger.error({ graceMs: SHUTDOWN_GRACE_MS }, 'shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    if (this.app) this.close();
  };

  private close(): void {
    this.app!.close().then(
      () => {
        this.logger.info('stopped');
        this.logger.flush?.();
        process.exit(0);
      },
      (error: unknown) => {
        this.logger.error({ err: error }, 'error while shutting down');
        process.exit(1);
      },
    );
  }
}

/** What the admin server logs of a request: Fastify's fields, with credentials in the query hidden. */
function requestForLog(request: { method: string; url: string; host?: string; socket?: { remoteAddress?: string; remotePort?: number } }) {
  return { method: request.method, url: redactQuerySecrets(request.url), host: request.host, remoteAddress: request.socket?.remoteAddress, remotePort: request.socket?.remotePort };
}
