import { Global, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditEventEntity } from './audit.entity.js';
import { AuditController } from './audit.controller.js';
import { AuditRecorder } from './audit-recorder.js';
import { AuditResolver } from './audit.resolver.js';
import { AuditTrail } from './audit-trail.service.js';

/** The one audit trail (always on): every module's mutations, `GET /audit`, GraphQL `auditEvents`. */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([AuditEventEntity])],
  controllers: [AuditController],
  providers: [AuditTrail, AuditRecorder, AuditResolver, { provide: APP_INTERCEPTOR, useExisting: AuditRecorder }],
  exports: [AuditTrail, AuditRecorder],
})
export class AuditModule {}
