import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandScopes, isScopeName } from './scopes.js';

describe('token scopes', () => {
  it('storage stands for read and write; the others for themselves', () => {
    assert.deepEqual(expandScopes(['storage']), ['storage:read', 'storage:write']);
    assert.deepEqual(expandScopes(['storage:read']), ['storage:read']);
    assert.deepEqual(expandScopes(['storage:write', 'storage']), ['storage:read', 'storage:write']);
  });

  it('knows only its names, so a stored name from a newer version grants nothing here', () => {
    assert.equal(isScopeName('storage:admin'), false);
    assert.equal(isScopeName('Storage'), false);
    assert.deepEqual(expandScopes(['storage:admin']), []);
  });
});
