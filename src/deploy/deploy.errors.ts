import { DomainError } from '../common/errors.js';

/** A state conflict the caller can resolve (a taken name, no release to run yet). */
export class DeployConflict extends DomainError {
  constructor(error: string, message: string, field?: string) {
    super(409, error, message, field);
  }
}
