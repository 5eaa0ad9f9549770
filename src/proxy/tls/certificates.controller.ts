import { Controller, Get } from '@nestjs/common';
import { CertificateBook, type CertificateInfo } from './certificate-book.js';

/** REST for programs: every domain's certificate (issuer, expiry, source, last error). */
@Controller('proxy/certificates')
export class CertificatesController {
  constructor(private readonly book: CertificateBook) {}

  @Get()
  list(): CertificateInfo[] {
    return this.book.list();
  }
}
