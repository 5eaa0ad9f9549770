import { Global, Inject, Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { AdminAuth } from './admin-auth.js';
import { ApiTokenGate } from './api-token-gate.js';
import { HealthService } from './health.js';
import { Metrics } from './metrics.js';
import { NodeController } from './node.controller.js';
import { NodeResolver } from './node.resolver.js';

export const LOGGER = Symbol('LOGGER');

/** Injects the process's pino logger; take a child with your module's name. */
export const InjectLogger = () => Inject(LOGGER);

/** What every module may use: health registration, admin auth (and opening routes to API tokens), metrics, the logger. */
@Global()
@Module({})
export class CoreModule {
  static forRoot(logger: Logger): DynamicModule {
    return {
      module: CoreModule,
      controllers: [NodeController],
      providers: [HealthService, AdminAuth, ApiTokenGate, Metrics, NodeResolver, { provide: LOGGER, useValue: logger }],
      exports: [HealthService, AdminAuth, ApiTokenGate, Metrics, LOGGER],
    };
  }
}
