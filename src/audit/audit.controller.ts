import { Controller, Get, Query } from '@nestjs/common';
import { ZodPipe } from '../common/zod-pipe.js';
import { auditFilterSchema, type AuditFilter } from './audit.dto.js';
import { AuditTrail } from './audit-trail.service.js';

/** `GET /audit?module=&actor=&action=&outcome=&since=&until=&limit=&offset=`: the one trail, newest first. */
@Controller('audit')
export class AuditController {
  constructor(private readonly trail: AuditTrail) {}

  @Get()
  async list(@Query(new ZodPipe(auditFilterSchema)) filter: AuditFilter) {
    return { events: await this.trail.list(filter) };
  }
}
