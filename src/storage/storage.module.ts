import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { moduleHealthController } from '../common/module-health.controller.js';
import { ObjectStoreModule } from './object-store.module.js';
import { StorageController } from './storage.controller.js';
import { TailOffset } from './storage.entity.js';
import { StorageHealth } from './storage.health.js';
import { StorageResolver } from './storage.resolver.js';
import { StorageService } from './storage.service.js';
import { StorageTokenRoutes } from './storage.token-routes.js';
import { TailerController } from './tailer/tailer.controller.js';
import { TailerService } from './tailer/tailer.service.js';
import { UploadExpiry } from './upload-expiry.js';

@Module({
  imports: [TypeOrmModule.forFeature([TailOffset]), ObjectStoreModule],
  controllers: [moduleHealthController('storage'), StorageController, TailerController],
  providers: [StorageHealth, StorageService, StorageResolver, StorageTokenRoutes, TailerService, UploadExpiry],
  exports: [StorageService],
})
export class StorageModule {}
