import { Module } from '@nestjs/common';
import { moduleHealthController } from '../common/module-health.controller.js';
import { StorageHealth } from './storage.health.js';

@Module({ controllers: [moduleHealthController('storage')], providers: [StorageHealth] })
export class StorageModule {}
