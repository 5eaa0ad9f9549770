import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { BinlogStream, RawBinlogEvent, ServerFacts } from './binlog.reader.js';
import { BinlogSource } from './binlog.source.js';
import { refusedRotate } from './row-messages.js';

const GOOD: ServerFacts = { logBin: 'ON', binlogFormat: 'ROW', binlogRowImage: 'FULL', grants: ['GRANT ALL PRIVILEGES ON *.* TO `cdc`@`%`'], binlogRowMetadata: 'FULL', account: "'cdc'@'%'" };

/**
 * A source over a reader whose streams are 'ready' and then fail, as a binlog dump the server refuses
 * does; `beforeFailing(n)` lists the events stream n delivers first. Returns the reconnect delays logged.
 */
function refusedSource(beforeFailing: (opened: number) => RawBinlogEvent[]) {
  const delays: number[] = [];
  const problems: string[] = [];
  let opened = 0;
  const reader = {
    facts: async () => GOOD,
    open: async () => {
      const stream = new EventEmitter() as BinlogStream;
      const index = opened++;
      Object.assign(stream, { resumePoint: () => null, pause() {}, resume() {}, stop() {} });
      setImmediate(() => {
        stream.emit('ready');
        for (const event of beforeFailing(index)) stream.emit('event', event);
        stream.emit('error', Object.assign(new Error('Access denied; you need the REPLICATION SLAVE privilege'), { errno: 1227 }));
      });
      return stream;
    },
  };
  const log = { info() {}, error() {}, warn: (fields: { retryInMs?: number; problem?: string }) => {
      if (fields.retryInMs !== undefined) delays.push(fields.retryInMs);
      if (fields.problem) problems.push(fields.problem);
    },
  };
  const config = { database: { url: 'sqlite://x' }, broadcast: { binlog: { enabled: true, url: 'mysql://cdc@127.0.0.1:3306/', serverId: 1, include: [], exclude: [], checkpointMs: 60_000, recheckSeconds: 60, stuckClientSeconds: 10, pauseAboveBytes: 1 << 26 } } };
  const broadcast = { bus: null, hub: { binlogRooms: () => [], breakRoom() {} }, store: { attach() {} } };
  const source = new BinlogSource(
    config as never,
    reader as never,
    broadcast as never,
    { onPressure() {}, backlog: () => ({ slowest: 0, total: 0 }), pressureBytes: () => 1 << 20 } as never,
    { findOneBy: async () => null } as never,
    { child: () => log } as never,
    { registry: new Registry() } as never,
  );
  return { source, delays, problems };
}

const rotateTo = (binlogName: string) => ({ getEventName: () => 'rotate', binlogName, timestamp: 0, nextPosition: 4, position: 4 }) as RawBinlogEvent;
const rotate = rotateTo('binlog.000001');

describe('BinlogSource reconnect backoff', () => {
  it('grows while the server refuses the dump (ready, then an error), and starts again once an event arrived', async () => {
    const { source, delays } = refusedSource((opened) => (opened === 3 ? [rotate] : []));
    source.onApplicationBootstrap();
    try {
      const until = Date.now() + 8000;
      while (delays.length < 4 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(delays.slice(0, 4), [250, 500, 1000, 250]);
    } finally {
      await source.onModuleDestroy().catch(() => undefined);
    }
  });
});

describe('BinlogSource rotates', () => {
  it('refuses a rotate name that is no binlog file after the current one (binlog.00, misread after binlog_checksum changed)', () => {
    assert.equal(refusedRotate('', 'binlog.000013'), null);
    assert.equal(refusedRotate('binlog.000012', 'binlog.000013'), null);
    assert.equal(refusedRotate('binlog.000013', 'binlog.000013'), null, 'the rotate a connection starts with');
    assert.equal(refusedRotate('binlog.999999', 'binlog.1000000'), null);
    for (const [current, next] of [['binlog.000012', 'binlog.00'], ['', 'binlog.00'], ['binlog.000012', 'binlog.000011'], ['binlog.000012', 'other.000013']]) {
      assert.match(refusedRotate(current, next) ?? '', /is not a binlog file after this one/, `${current} -> ${next}`);
    }
  });

  it('fails the connection on such a rotate (a fresh one reads it again), rather than reading on under a wrong file name', async () => {
    const { source, problems } = refusedSource((opened) => (opened === 0 ? [rotateTo('binlog.000012'), rotateTo('binlog.00')] : []));
    source.onApplicationBootstrap();
    try {
      const until = Date.now() + 3000;
      while (problems.length < 1 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.match(problems[0] ?? '', /binlog rotate to "binlog.00" \(reading binlog.000012\)/);
    } finally {
      await source.onModuleDestroy().catch(() => undefined);
    }
  });
});
