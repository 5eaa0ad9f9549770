import { Controller, Get } from '@nestjs/common';
import { AcmeService } from './acme.service.js';

/**
 * REST: the ACME side of certificates. GET /proxy/certificates lists what this
 * host serves; this adds, from the shared database, who ordered each
 * certificate, failures in a row, the next attempt, and who holds the lock.
 */
@Controller('proxy/acme')
export class AcmeController {
  constructor(private readonly acme: AcmeService) {}

  @Get()
  status() {
    return this.acme.status();
  }
}
