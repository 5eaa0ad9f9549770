import { Module } from '@nestjs/common';
import { getRepositoryToken, TypeOrmModule } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { Repository } from 'typeorm';
import { LOGGER } from '../common/core.module.js';
import { moduleHealthController } from '../common/module-health.controller.js';
import { DOZEN_CONFIG } from '../config/config.module.js';
import type { DozenConfig } from '../config/config.schema.js';
import { CATALOG, type Catalog } from './catalog.js';
import { ConsulCatalog } from './consul.catalog.js';
import { EmbeddedCatalog } from './embedded.catalog.js';
import { DatabaseEmbeddedStore } from './embedded.store.js';
import { LostWatch } from './lost-watch.js';
import { RegistryController } from './registry.controller.js';
import { RegistryInstanceEntity, RegistryKvEntity } from './registry.entity.js';
import { RegistryHealth } from './registry.health.js';
import { RegistryLiveResolver } from './registry-live.resolver.js';
import { RegistryResolver } from './registry.resolver.js';
import { RegistryService } from './registry.service.js';
import { ROUTE_SOURCE } from './routes.js';

/** Least time between two blocking reads of one watch: bounds the request rate on the agent at ~40/s per watch while changes stream in. */
const CONSUL_MIN_QUERY_INTERVAL_MS = 25;

/** The catalog adapter `registry.catalog` names. */
async function openCatalog(
  config: DozenConfig,
  logger: Logger,
  instances: Repository<RegistryInstanceEntity>,
  kv: Repository<RegistryKvEntity>,
): Promise<Catalog> {
  const log = logger.child({ module: 'registry' });
  if (config.registry.catalog === 'consul') {
    const { url, token, stale, waitSeconds } = config.registry.consul;
    return new ConsulCatalog({
      url, token, stale, waitSeconds, minIntervalMs: CONSUL_MIN_QUERY_INTERVAL_MS,
      onError: (error, what) => log.warn({ err: error, consul: url }, `consul: ${what} failed; retrying`),
    });
  }
  return EmbeddedCatalog.open(new DatabaseEmbeddedStore(instances, kv), { onStoreError: (error) => log.error({ err: error }, 'embedded catalog write failed') });
}

@Module({
  imports: [TypeOrmModule.forFeature([RegistryInstanceEntity, RegistryKvEntity])],
  controllers: [moduleHealthController('registry'), RegistryController],
  providers: [
    {
      provide: CATALOG,
      inject: [DOZEN_CONFIG, LOGGER, getRepositoryToken(RegistryInstanceEntity), getRepositoryToken(RegistryKvEntity)],
      useFactory: openCatalog,
    },
    RegistryService,
    { provide: ROUTE_SOURCE, useExisting: RegistryService },
    RegistryHealth,
    RegistryResolver,
    RegistryLiveResolver,
    LostWatch,
  ],
  exports: [RegistryService, ROUTE_SOURCE],
})
export class RegistryModule {}
