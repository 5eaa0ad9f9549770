import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reusePortUnsupported } from './reuse-port.js';

describe('reusePortUnsupported', () => {
  it('allows Node 22.12 on and 23+, on Linux only', () => {
    for (const version of ['22.12.0', '22.23.5', '23.1.0', '24.22.3', '26.0.0']) assert.equal(reusePortUnsupported(version, 'linux'), null, version);
    for (const version of ['20.20.2', '22.11.0', '23.0.0', '18.20.0']) assert.match(reusePortUnsupported(version, 'linux')!, /has no reusePort in net/, version);
    assert.match(reusePortUnsupported('24.22.3', 'darwin')!, /Linux only \(this is darwin\)/);
  });
});
