import { Controller, Get, NotFoundException, Res, type Type } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { ModuleName } from '../config/config.schema.js';
import { HealthService } from './health.js';

/**
 * `GET /<module>/health`: one module's health, 200 when up (or warning) and 503 when down (as `/health`),
 * so a monitor that reads only the status code sees the outage. Each module mounts its own,
 * so a module that is off on this host has no such route (404), like all its routes.
 */
export function moduleHealthController(module: ModuleName): Type {
  @Controller(module)
  class ModuleHealthController {
    constructor(readonly health: HealthService) {}

    @Get('health')
    async get(@Res() reply: FastifyReply) {
      const report = await this.health.report();
      const result = report.modules[module];
      if (result.status === 'disabled') throw new NotFoundException(`module ${module} is not running on this host`);
      await reply.status(result.status === 'down' ? 503 : 200).send(result);
    }
  }
  return ModuleHealthController;
}
