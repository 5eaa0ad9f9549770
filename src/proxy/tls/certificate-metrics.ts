import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { Metrics } from '../../common/metrics.js';
import { CertificateBook } from './certificate-book.js';

/** A certificate expiring within this is a health warning. */
export const EXPIRY_WARNING_MS = 7 * 86_400_000;

/** `dozen_proxy_certificate_expiry_seconds{domain}`: seconds until each served certificate expires (negative once expired), read from the book at scrape. */
@Injectable()
export class CertificateMetrics {
  constructor(metrics: Metrics, book: CertificateBook) {
    new Gauge({
      name: 'dozen_proxy_certificate_expiry_seconds',
      help: 'Seconds until the certificate served for the domain expires (negative: expired)',
      labelNames: ['domain'],
      registers: [metrics.registry],
      collect() {
        this.reset();
        const now = Date.now();
        for (const info of book.list()) if (info.notAfter) this.set({ domain: info.domain }, Math.round((Date.parse(info.notAfter) - now) / 1000));
      },
    });
  }
}

/** Domains whose certificate expires within EXPIRY_WARNING_MS (or has expired), soonest first. */
export function expiringSoon(book: CertificateBook, now = Date.now()): { domain: string; notAfter: string }[] {
  return book
    .list()
    .filter((info): info is typeof info & { notAfter: string } => info.notAfter !== null && Date.parse(info.notAfter) - now < EXPIRY_WARNING_MS)
    .sort((a, b) => Date.parse(a.notAfter) - Date.parse(b.notAfter))
    .map(({ domain, notAfter }) => ({ domain, notAfter }));
}
