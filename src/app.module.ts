import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import { errorFormatter, GRAPHQL_LIMITS, GRAPHQL_PATH, GRAPHQL_SUBSCRIPTION_HOOKS } from './common/graphql-limits.js';
import type { Logger } from 'pino';
import { subscriptionContext } from './access/access.guard.js';
import { AccessModule } from './access/access.module.js';
import { AuditModule } from './audit/audit.module.js';
import { AdminAuth } from './common/admin-auth.js';
import { CoreModule } from './common/core.module.js';
import { LiveCallers } from './common/live-callers.js';
import { HttpErrorFilter } from './common/errors.js';
import { ConfigModule } from './config/config.module.js';
import type { DozenConfig, ModuleName } from './config/config.schema.js';
import { DatabaseModule } from './database/database.module.js';
import { NotifyModule } from './notify/notify.module.js';
import { TokensModule } from './tokens/tokens.module.js';

/**
 * Each module's code, loaded only on a host that runs it: a host without deploy, storage or broadcast never
 * loads dockerode, ali-oss or the MySQL and Redis clients (a third of a proxy and registry host's start).
 */
const MODULES: Record<ModuleName, () => Promise<Type>> = {
  proxy: async () => (await import('./proxy/proxy.module.js')).ProxyModule,
  registry: async () => (await import('./registry/registry.module.js')).RegistryModule,
  deploy: async () => (await import('./deploy/deploy.module.js')).DeployModule,
  storage: async () => (await import('./storage/storage.module.js')).StorageModule,
  broadcast: async () => (await import('./broadcast/broadcast.module.js')).BroadcastModule,
};

/** The whole process: core services, the database, API tokens, people (users, sessions, roles), GraphQL, and only the modules `modules` turns on. */
@Module({})
export class AppModule {
  static async forRoot(config: DozenConfig, logger: Logger): Promise<DynamicModule> {
    const modules = await Promise.all(config.modules.map((name) => MODULES[name]()));
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        CoreModule.forRoot(logger),
        DatabaseModule,
        TokensModule,
        AuditModule,
        AccessModule,
        NotifyModule,
        // Subscriptions: the console's live data over graphql-transport-ws at /graphql (docs/console.md). The
        // upgrade passed AdminAuth's hook like any request; its caller, followed by LiveCallers, goes in the
        // context for the access guard.
        GraphQLModule.forRootAsync<MercuriusDriverConfig>({
          driver: MercuriusDriver,
          inject: [LiveCallers, AdminAuth],
          useFactory: (live: LiveCallers, auth: AdminAuth) => ({
            autoSchemaFile: true, graphiql: false, path: GRAPHQL_PATH, validationRules: GRAPHQL_LIMITS, hooks: GRAPHQL_SUBSCRIPTION_HOOKS, errorFormatter,
            // A field resolver's errors (an object's crc64 from a HEAD) get HttpErrorFilter's code and status too.
            fieldResolverEnhancers: ['filters'],
            subscription: { context: subscriptionContext(live, auth) },
          }),
        }),
        ...modules,
      ],
      // As a provider (not useGlobalFilters) so it also shapes the errors Fastify raises before a handler runs.
      providers: [{ provide: APP_FILTER, useFactory: () => new HttpErrorFilter(logger.child({ module: 'api' })) }],
    };
  }
}
