import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServerFacts } from './binlog.reader.js';
import { serverProblems } from './server-check.js';

const facts = (grant: string): ServerFacts => ({
  logBin: 'ON',
  binlogFormat: 'ROW',
  binlogRowImage: 'FULL',
  grants: [grant],
  binlogRowMetadata: 'FULL',
  account: "'cdc'@'%'",
});

describe('serverProblems grants', () => {
  it('takes REPLICATION SLAVE and REPLICA, not REPLICATION SLAVE ADMIN, as the right to read the binlog', () => {
    assert.deepEqual(serverProblems(facts("GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `cdc`@`%`")), []);
    assert.deepEqual(serverProblems(facts("GRANT SELECT, REPLICATION REPLICA, REPLICATION CLIENT ON *.* TO `cdc`@`%`")), []);
    assert.deepEqual(serverProblems(facts("GRANT SELECT, BINLOG MONITOR, REPLICATION SLAVE ADMIN ON *.* TO `cdc`@`%`")), [
      "user 'cdc'@'%' lacks REPLICATION SLAVE: GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'cdc'@'%'",
    ]);
    assert.deepEqual(serverProblems(facts("GRANT SELECT, BINLOG MONITOR, REPLICATION SLAVE ADMIN, REPLICATION SLAVE ON *.* TO `cdc`@`%`")), []);
  });
});
