import { Module } from '@nestjs/common';
import { moduleHealthController } from '../common/module-health.controller.js';
import { BroadcastController } from './broadcast.controller.js';
import { BroadcastGateway } from './broadcast.gateway.js';
import { BroadcastHealth } from './broadcast.health.js';
import { BroadcastResolver } from './broadcast.resolver.js';
import { BroadcastService } from './broadcast.service.js';

@Module({
  controllers: [moduleHealthController('broadcast'), BroadcastController],
  providers: [BroadcastHealth, BroadcastService, BroadcastGateway, BroadcastResolver],
  exports: [BroadcastService],
})
export class BroadcastModule {}
