import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ArgumentsHost } from '@nestjs/common';
import { GraphQLError } from 'graphql';
import { BadInput, DomainError, HttpErrorFilter, NotFound } from './errors.js';

function graphqlHost(): ArgumentsHost {
  return { getType: () => 'graphql' } as unknown as ArgumentsHost;
}

/** What the filter throws for a resolver's error, and what it logged. */
function fromResolver(exception: unknown): [GraphQLError, unknown[]] {
  const logged: unknown[] = [];
  const filter = new HttpErrorFilter({ error: (object: unknown) => void logged.push(object) } as never);
  try {
    filter.catch(exception, graphqlHost());
  } catch (thrown) {
    assert.ok(thrown instanceof GraphQLError, `threw ${String(thrown)}`);
    return [thrown, logged];
  }
  assert.fail('the filter returned instead of throwing');
}

describe('HttpErrorFilter on GraphQL', () => {
  it('gives a domain error the code, status, field and details of its REST body', () => {
    const [bad] = fromResolver(new BadInput('limit', 'must be an integer from 1 to 1000'));
    assert.equal(bad.message, 'limit: must be an integer from 1 to 1000');
    assert.deepEqual(bad.extensions, { code: 'bad_request', status: 400, field: 'limit' });
    const [missing] = fromResolver(new NotFound('app', 'blog'));
    assert.deepEqual(missing.extensions, { code: 'not_found', status: 404 });
    const [limited] = fromResolver(new DomainError(429, 'too_soon', 'try again in 30 s', undefined, { retryAfter: 30 }));
    assert.deepEqual(limited.extensions, { code: 'too_soon', status: 429, retryAfter: 30 });
  });

  it('hides an unexpected error behind "internal error" and logs it', () => {
    const cause = new Error('SQLITE_CORRUPT: database disk image is malformed at /var/lib/dozen/dozen.db');
    const [internal, logged] = fromResolver(cause);
    assert.equal(internal.message, 'internal error');
    assert.deepEqual(internal.extensions, { code: 'internal', status: 500 });
    assert.deepEqual(logged, [{ err: cause }]);
  });

  it('passes a GraphQLError (the access guard\'s refusals) through as it is', () => {
    const refusal = new GraphQLError('needs deploy.write', { extensions: { code: 'forbidden', status: 403 } });
    const [passed, logged] = fromResolver(refusal);
    assert.equal(passed, refusal);
    assert.deepEqual(logged, []);
  });
});
