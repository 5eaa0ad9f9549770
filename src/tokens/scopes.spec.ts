import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandScopes, SCOPE_NAMES } from './scopes.js';

describe('token scopes', () => {
  it('storage stands for read and write; the others for themselves', () => {
    assert.deepEqual(expandScopes(['storage']), ['storage:read', 'storage:write']);
    assert.deepEqual(expandScopes(['storage:read']), ['storage:read']);
    assert.deepEqual(expandScopes(['storage:write', 'storage']), ['storage:read', 'storage:write']);
  });

  it('knows only its names, so a stored name from a newer version grants nothing here', () => {
    assert.deepEqual(SCOPE_NAMES, ['storage', 'storage:read', 'storage:write']);
    assert.deepEqual(expandScopes(['storage:admin']), []);
  });
});
