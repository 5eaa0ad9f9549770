import { Controller, Get, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { HealthService } from './health.js';
import { Metrics } from './metrics.js';

@Controller()
export class NodeController {
  constructor(
    private readonly health: HealthService,
    private readonly metrics: Metrics,
  ) {}

  /** 200 when every module on this host is up (or warns), 503 when one is down; disabled modules do not count. */
  @Get('health')
  async getHealth(@Res() reply: FastifyReply) {
    const report = await this.health.report();
    await reply.status(report.status === 'down' ? 503 : 200).send(report);
  }

  @Get('metrics')
  async getMetrics(@Res() reply: FastifyReply) {
    await reply.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
  }
}
