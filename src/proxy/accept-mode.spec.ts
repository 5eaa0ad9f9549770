import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseAccept, reusePortUnsupported } from './accept-mode.js';

describe('reusePortUnsupported', () => {
  it('allows Node 22.12 on and 23+, on Linux only', () => {
    for (const version of ['22.12.0', '22.23.5', '23.1.0', '24.22.3', '26.0.0']) assert.equal(reusePortUnsupported(version, 'linux'), null, version);
    for (const version of ['20.20.2', '22.11.0', '23.0.0', '18.20.0']) assert.match(reusePortUnsupported(version, 'linux')!, /has no reusePort in net/, version);
    assert.match(reusePortUnsupported('24.22.3', 'darwin')!, /Linux only \(this is darwin\)/);
  });
});

describe('chooseAccept', () => {
  const node20 = reusePortUnsupported('20.20.2', 'linux');

  it('auto is kernel where SO_REUSEPORT balancing exists, else primary (both spread evenly) with the reason', () => {
    assert.deepEqual(chooseAccept({ accept: 'auto', workers: 2 }, null), { mode: 'kernel', reason: null });
    assert.deepEqual(chooseAccept({ accept: 'auto', workers: 2 }, node20), { mode: 'primary', reason: node20 });
  });

  it('kernel asked of a Node without it falls back to primary, saying why', () => {
    assert.deepEqual(chooseAccept({ accept: 'kernel', workers: 2 }, null), { mode: 'kernel', reason: null });
    assert.deepEqual(chooseAccept({ accept: 'kernel', workers: 2 }, node20), { mode: 'primary', reason: node20 });
  });

  it('shared and primary are kept as asked, on every Node', () => {
    for (const unsupported of [null, node20]) {
      assert.deepEqual(chooseAccept({ accept: 'shared', workers: 2 }, unsupported), { mode: 'shared', reason: 'proxy.accept is shared' });
      assert.deepEqual(chooseAccept({ accept: 'primary', workers: 2 }, unsupported), { mode: 'primary', reason: 'proxy.accept is primary' });
    }
  });

  it('the deprecated reusePort: false is primary unless accept says otherwise; true changes nothing', () => {
    assert.equal(chooseAccept({ accept: 'auto', reusePort: false, workers: 2 }, null).mode, 'primary');
    assert.match(chooseAccept({ accept: 'auto', reusePort: false, workers: 2 }, null).reason!, /deprecated: write proxy\.accept: primary/);
    assert.equal(chooseAccept({ accept: 'shared', reusePort: false, workers: 2 }, null).mode, 'shared');
    assert.equal(chooseAccept({ accept: 'auto', reusePort: true, workers: 2 }, null).mode, 'kernel');
  });

  it('no workers: the main process serves alone', () => {
    assert.deepEqual(chooseAccept({ accept: 'kernel', workers: 0 }, null), { mode: 'primary', reason: 'proxy.workers is 0: one process serves' });
  });
});
