import { Module } from '@nestjs/common';
import { moduleHealthController } from '../common/module-health.controller.js';
import { RegistryHealth } from './registry.health.js';

@Module({ controllers: [moduleHealthController('registry')], providers: [RegistryHealth] })
export class RegistryModule {}
