import { Module } from '@nestjs/common';
import { moduleHealthController } from '../common/module-health.controller.js';
import { BroadcastHealth } from './broadcast.health.js';

@Module({ controllers: [moduleHealthController('broadcast')], providers: [BroadcastHealth] })
export class BroadcastModule {}
