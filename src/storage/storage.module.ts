import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DOZEN_CONFIG } from '../config/config.module.js';
import { LOGGER } from '../common/core.module.js';
import { moduleHealthController } from '../common/module-health.controller.js';
import { OBJECT_STORE } from './object-store.js';
import { objectStore } from './object-store.factory.js';
import { StorageController } from './storage.controller.js';
import { TailOffset } from './storage.entity.js';
import { StorageHealth } from './storage.health.js';
import { StorageService } from './storage.service.js';
import { StorageTokenRoutes } from './storage.token-routes.js';
import { TailerController } from './tailer/tailer.controller.js';
import { TailerService } from './tailer/tailer.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([TailOffset])],
  controllers: [moduleHealthController('storage'), StorageController, TailerController],
  providers: [StorageHealth, StorageService, StorageTokenRoutes, TailerService, { provide: OBJECT_STORE, inject: [DOZEN_CONFIG, LOGGER], useFactory: objectStore }],
  exports: [StorageService],
})
export class StorageModule {}
