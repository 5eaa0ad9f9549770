import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Res, type OnModuleDestroy } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ZodPipe } from '../common/zod-pipe.js';
import { appParam, heartbeatSchema, idParam, registerSchema, type HeartbeatInput, type RegisterInput } from './dto/registry.dto.js';
import { LoadStreams } from './load-stream.js';
import { RegistryService } from './registry.service.js';

/** REST for programs: the deploy agent, `dozen register`, or an app with curl. */
@Controller('registry')
export class RegistryController implements OnModuleDestroy {
  private readonly streams: LoadStreams;

  constructor(private readonly registry: RegistryService) {
    this.streams = new LoadStreams(() => registry.loadFigures());
  }

  onModuleDestroy(): void {
    this.streams.closeAll();
  }

  @Post('instances')
  register(@Body(new ZodPipe(registerSchema)) input: RegisterInput) {
    return this.registry.register(input);
  }

  @Put('instances/:id/heartbeat')
  heartbeat(@Param('id', new ZodPipe(idParam, 'id')) id: string, @Body(new ZodPipe(heartbeatSchema)) input: HeartbeatInput) {
    return this.registry.heartbeat(id, input);
  }

  @Delete('instances/:id')
  @HttpCode(204)
  async deregister(@Param('id', new ZodPipe(idParam, 'id')) id: string): Promise<void> {
    await this.registry.deregister(id);
  }

  @Get('services')
  services() {
    return this.registry.services();
  }

  @Get('services/:app')
  service(@Param('app', new ZodPipe(appParam, 'app')) app: string) {
    return this.registry.service(app);
  }

  @Get('routes')
  routes() {
    return this.registry.routes();
  }

  @Get('load')
  load() {
    return this.registry.loadFigures();
  }

  @Get('load/stream')
  loadStream(@Res() reply: FastifyReply): void {
    reply.hijack();
    this.streams.add(reply.raw);
  }
}
