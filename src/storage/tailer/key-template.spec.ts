import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { continuationKey, keyTemplateProblem, renderKey, utcDate } from './key-template.js';

describe('log object key templates', () => {
  it('fills host, app, file and date, and keeps a value from adding path segments', () => {
    const fields = { host: 'web-1', app: 'shop', file: 'access.log', date: '2026-03-04' };
    assert.equal(renderKey('logs/{host}/{app}/{file}/{date}.log', fields), 'logs/web-1/shop/access.log/2026-03-04.log');
    assert.equal(renderKey('logs/{app}', { ...fields, app: 'a/b' }), 'logs/a_b');
    assert.equal(renderKey('logs/{app}/x', { ...fields, app: '' }), 'logs/_/x');
  });

  it('refuses a template with an unknown placeholder, or whose keys the store would refuse', () => {
    assert.equal(keyTemplateProblem('logs/{host}/{app}/{file}/{date}.log'), null);
    assert.equal(keyTemplateProblem('{file}'), null);
    assert.equal(keyTemplateProblem('logs/{nosuch}/{file}'), 'unknown placeholder {nosuch}: use {host}, {app}, {file}, {date}');
    assert.equal(keyTemplateProblem('logs/{File}'), 'unknown placeholder {File}: use {host}, {app}, {file}, {date}');
    assert.equal(keyTemplateProblem('../{file}'), 'gives keys such as "../access.log", which must not contain . or .. segments');
    assert.match(keyTemplateProblem('/logs/{file}') ?? '', /must not start with \//);
    assert.match(keyTemplateProblem('logs//{file}') ?? '', /empty segments/);
    assert.match(keyTemplateProblem('logs/{file}/') ?? '', /must not end with \//);
  });

  it('names continuation keys before the last extension, or at the end', () => {
    assert.equal(continuationKey('logs/h/app.log/2026-12-01.log', 1), 'logs/h/app.log/2026-12-01.1.log');
    assert.equal(continuationKey('logs/h/app.log/2026-12-01.log', 2), 'logs/h/app.log/2026-12-01.2.log');
    assert.equal(continuationKey('logs/h.d/app', 1), 'logs/h.d/app.1');
    assert.equal(continuationKey('logs/.hidden', 1), 'logs/.hidden.1');
  });

  it('dates by UTC day', () => {
    assert.equal(utcDate(new Date('2026-03-04T23:59:59+00:00')), '2026-03-04');
    assert.equal(utcDate(new Date('2026-03-05T01:00:00+02:00')), '2026-03-04');
  });
});
