import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ZodPipe } from '../../common/zod-pipe.js';
import { domainSchema } from '../../registry/domains.js';
import { AcmeService } from './acme.service.js';

/**
 * REST: the ACME side of certificates. GET /proxy/certificates lists what this
 * host serves; GET /proxy/acme adds, from the shared database, who ordered each
 * certificate, failures in a row, the next attempt, and who holds the lock.
 */
@Controller('proxy')
export class AcmeController {
  constructor(private readonly acme: AcmeService) {}

  @Get('acme')
  status() {
    return this.acme.status();
  }

  /** A new certificate now, whatever the current one's expiry; answers once the order ended, with the domain's ACME state. */
  @Post('certificates/:domain/renew')
  @HttpCode(200)
  renew(@Param('domain', new ZodPipe(domainSchema, 'domain')) domain: string) {
    return this.acme.renewNow(domain);
  }
}
