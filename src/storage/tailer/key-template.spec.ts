import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderKey, utcDate } from './key-template.js';

describe('log object key templates', () => {
  it('fills host, app, file and date, and keeps a value from adding path segments', () => {
    const fields = { host: 'web-1', app: 'shop', file: 'access.log', date: '2026-03-04' };
    assert.equal(renderKey('logs/{host}/{app}/{file}/{date}.log', fields), 'logs/web-1/shop/access.log/2026-03-04.log');
    assert.equal(renderKey('logs/{app}', { ...fields, app: 'a/b' }), 'logs/a_b');
    assert.equal(renderKey('logs/{app}/x', { ...fields, app: '' }), 'logs/_/x');
  });

  it('dates by UTC day', () => {
    assert.equal(utcDate(new Date('2026-03-04T23:59:59+00:00')), '2026-03-04');
    assert.equal(utcDate(new Date('2026-03-05T01:00:00+02:00')), '2026-03-04');
  });
});
