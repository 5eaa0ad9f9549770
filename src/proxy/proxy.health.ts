import { request } from 'node:http';
import { Injectable } from '@nestjs/common';
import { HealthService, type HealthIndicator, type HealthResult } from '../common/health.js';
import { ProxyService } from './proxy.service.js';
import { CertificateBook } from './tls/certificate-book.js';
import { expiringSoon } from './tls/certificate-metrics.js';

/** The probe must answer well inside the health endpoint's own 2 s limit. */
const PROBE_TIMEOUT_MS = 1_500;
/** A host no app can have (`.invalid`, RFC 2606): the proxy answers it itself with 404 JSON. */
const PROBE_HOST = 'health-probe.dozen.invalid';

/**
 * Down while the public listener is not served: port taken, every worker
 * dead, workers in a crash loop (the last error is the reason), or the
 * listener answers no request (a real request is sent to it at each check).
 * The details say which engine each worker runs and why. A certificate
 * expiring within 7 days makes it `warning` (still serving).
 */
@Injectable()
export class ProxyHealth implements HealthIndicator {
  constructor(
    health: HealthService,
    private readonly proxy: ProxyService,
    private readonly book: CertificateBook,
  ) {
    health.register('proxy', this);
  }

  async check(): Promise<HealthResult> {
    const details = { engines: this.proxy.engines, accept: this.proxy.accept };
    const problem = this.proxy.problem ?? (await this.probe());
    if (problem) return { status: 'down', reason: problem, details };
    const expiring = expiringSoon(this.book);
    if (expiring.length) return { status: 'warning', reason: `certificates expire within 7 days: ${expiring.map((cert) => `${cert.domain} (${cert.notAfter})`).join(', ')}`, details };
    return { status: 'up', details };
  }

  /** null when the listener answered a request for an unknown host with its 404 JSON; else what went wrong. */
  private probe(): Promise<string | null> {
    const { host, port } = this.proxy.probeAddress;
    const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    return new Promise((resolve) => {
      const req = request({ host, port, path: '/', headers: { host: PROBE_HOST }, agent: false, timeout: PROBE_TIMEOUT_MS }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 404 ? null : `the proxy answered a probe on ${where} with ${res.statusCode}, not 404`));
        res.on('error', (error) => resolve(`the proxy's answer to a probe on ${where} broke off (${error.message})`));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
      req.on('error', (error) => resolve(`the proxy answered no request on ${where} (${error.message})`));
      req.end();
    });
  }
}
