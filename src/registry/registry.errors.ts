import { DomainError } from '../common/errors.js';

/** A domain is already served by another app (one domain maps to one app). */
export class DomainTaken extends DomainError {
  constructor(domain: string, app: string) {
    super(409, 'domain_taken', `domain ${JSON.stringify(domain)} is already served by app ${JSON.stringify(app)}`, 'domains');
  }
}

/** The catalog engine (Consul agent) did not answer or refused. */
export class CatalogUnavailable extends DomainError {
  constructor(message: string) {
    super(503, 'catalog_unavailable', message);
  }
}
