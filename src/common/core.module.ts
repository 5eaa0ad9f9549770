import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { AdminAuth } from './admin-auth.js';
import { ApiTokenGate } from './api-token-gate.js';
import { HealthService } from './health.js';
import { LiveCallers } from './live-callers.js';
import { LOGGER } from './logger.js';
import { Metrics } from './metrics.js';
import { NodeController } from './node.controller.js';
import { NodeResolver } from './node.resolver.js';

// Defined beside the logger, so that providers listed here can inject it without an import cycle.
export { InjectLogger, LOGGER } from './logger.js';

/** What every module may use: health registration, admin auth (and opening routes to API tokens), the callers of open WebSockets, metrics, the logger. */
@Global()
@Module({})
export class CoreModule {
  static forRoot(logger: Logger): DynamicModule {
    return {
      module: CoreModule,
      controllers: [NodeController],
      providers: [HealthService, AdminAuth, ApiTokenGate, LiveCallers, Metrics, NodeResolver, { provide: LOGGER, useValue: logger }],
      exports: [HealthService, AdminAuth, ApiTokenGate, LiveCallers, Metrics, LOGGER],
    };
  }
}
