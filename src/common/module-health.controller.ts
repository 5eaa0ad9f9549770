import { Controller, Get, NotFoundException, type Type } from '@nestjs/common';
import type { ModuleName } from '../config/config.schema.js';
import { HealthService } from './health.js';

/**
 * `GET /<module>/health`: one module's health. Each module mounts its own, so a
 * module that is off on this host has no such route (404), like all its routes.
 */
export function moduleHealthController(module: ModuleName): Type {
  @Controller(module)
  class ModuleHealthController {
    constructor(readonly health: HealthService) {}

    @Get('health')
    async get() {
      const report = await this.health.report();
      const result = report.modules[module];
      if (result.status === 'disabled') throw new NotFoundException(`module ${module} is not running on this host`);
      return result;
    }
  }
  return ModuleHealthController;
}
