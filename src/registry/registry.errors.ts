import { DomainError } from '../common/errors.js';

/** A domain is already served by another app (one domain maps to one app). */
export class DomainTaken extends DomainError {
  constructor(domain: string, app: string) {
    super(409, 'domain_taken', `domain ${JSON.stringify(domain)} is already served by app ${JSON.stringify(app)}`, 'domains');
  }
}

/** An instance id is another app's instance's, or a dozen host's own entry (registering it would replace theirs). */
export class InstanceIdTaken extends DomainError {
  constructor(id: string, app: string) {
    super(409, 'id_taken', `instance id ${JSON.stringify(id)} is taken by ${app === 'dozen' ? 'a dozen host' : `an instance of app ${JSON.stringify(app)}`}`, 'id');
  }
}

/** The catalog engine (Consul agent) did not answer or refused. */
export class CatalogUnavailable extends DomainError {
  constructor(message: string) {
    super(503, 'catalog_unavailable', message);
  }
}
