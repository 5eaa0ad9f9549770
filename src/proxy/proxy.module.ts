import { Module } from '@nestjs/common';
import { moduleHealthController } from '../common/module-health.controller.js';
import { ProxyHealth } from './proxy.health.js';

@Module({ controllers: [moduleHealthController('proxy')], providers: [ProxyHealth] })
export class ProxyModule {}
