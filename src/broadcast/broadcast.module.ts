import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { moduleHealthController } from '../common/module-health.controller.js';
import { BinlogCheckpoint } from './binlog/binlog-checkpoint.entity.js';
import { BinlogReader } from './binlog/binlog.reader.js';
import { BinlogSource } from './binlog/binlog.source.js';
import { BinlogStatusResolver } from './binlog-status.resolver.js';
import { BroadcastController } from './broadcast.controller.js';
import { BroadcastGateway } from './broadcast.gateway.js';
import { BroadcastHealth } from './broadcast.health.js';
import { BroadcastResolver } from './broadcast.resolver.js';
import { BroadcastService } from './broadcast.service.js';
import { RoomMessageRow, RoomRow } from './store/room-state.entity.js';
import { RoomStore } from './store/room.store.js';

@Module({
  imports: [TypeOrmModule.forFeature([BinlogCheckpoint, RoomRow, RoomMessageRow])],
  controllers: [moduleHealthController('broadcast'), BroadcastController],
  providers: [BroadcastHealth, RoomStore, BroadcastService, BroadcastGateway, BroadcastResolver, BinlogStatusResolver, BinlogReader, BinlogSource],
  exports: [BroadcastService],
})
export class BroadcastModule {}
