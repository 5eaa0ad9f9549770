import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import { GRAPHQL_LIMITS, GRAPHQL_SUBSCRIPTION_HOOKS } from './common/graphql-limits.js';
import type { Logger } from 'pino';
import { subscriptionContext } from './access/access.guard.js';
import { AccessModule } from './access/access.module.js';
import { AuditModule } from './audit/audit.module.js';
import { BroadcastModule } from './broadcast/broadcast.module.js';
import { CoreModule } from './common/core.module.js';
import { HttpErrorFilter } from './common/errors.js';
import { ConfigModule } from './config/config.module.js';
import type { DozenConfig, ModuleName } from './config/config.schema.js';
import { DatabaseModule } from './database/database.module.js';
import { DeployModule } from './deploy/deploy.module.js';
import { NotifyModule } from './notify/notify.module.js';
import { ProxyModule } from './proxy/proxy.module.js';
import { RegistryModule } from './registry/registry.module.js';
import { StorageModule } from './storage/storage.module.js';
import { TokensModule } from './tokens/tokens.module.js';

const MODULES: Record<ModuleName, Type> = {
  proxy: ProxyModule,
  registry: RegistryModule,
  deploy: DeployModule,
  storage: StorageModule,
  broadcast: BroadcastModule,
};

/** The whole process: core services, the database, API tokens, people (users, sessions, roles), GraphQL, and only the modules `modules` turns on. */
@Module({})
export class AppModule {
  static forRoot(config: DozenConfig, logger: Logger): DynamicModule {
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
        // upgrade passed AdminAuth's hook like any request; its caller goes in the context for the access guard.
        GraphQLModule.forRoot<MercuriusDriverConfig>({
          driver: MercuriusDriver, autoSchemaFile: true, graphiql: false, path: '/graphql', validationRules: GRAPHQL_LIMITS, hooks: GRAPHQL_SUBSCRIPTION_HOOKS,
          // A field resolver's errors (an object's crc64 from a HEAD) get HttpErrorFilter's code and status too.
          fieldResolverEnhancers: ['filters'],
          subscription: { context: subscriptionContext },
        }),
        ...config.modules.map((name) => MODULES[name]),
      ],
      // As a provider (not useGlobalFilters) so it also shapes the errors Fastify raises before a handler runs.
      providers: [{ provide: APP_FILTER, useFactory: () => new HttpErrorFilter(logger.child({ module: 'api' })) }],
    };
  }
}
