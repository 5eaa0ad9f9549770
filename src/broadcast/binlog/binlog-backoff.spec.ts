import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { BinlogStream, RawBinlogEvent, ServerFacts } from './binlog.reader.js';
import { BinlogSource } from './binlog.source.js';

const GOOD: ServerFacts = { logBin: 'ON', binlogFormat: 'ROW', binlogRowImage: 'FULL', grants: ['GRANT ALL PRIVILEGES ON *.* TO `cdc`@`%`'], binlogRowMetadata: 'FULL', account: "'cdc'@'%'" };

/**
 * A source over a reader whose streams are 'ready' and then fail, as a binlog dump the server refuses
 * does; `beforeFailing(n)` lists the events stream n delivers first. Returns the reconnect delays logged.
 */
function refusedSource(beforeFailing: (opened: number) => RawBinlogEvent[]) {
  const delays: number[] = [];
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
  const log = { info() {}, error() {}, warn: (fields: { retryInMs?: number }) => void (fields.retryInMs !== undefined && delays.push(fields.retryInMs)) };
  const config = { database: { url: 'sqlite://x' }, broadcast: { binlog: { enabled: true, url: 'mysql://cdc@127.0.0.1:3306/', serverId: 1, include: [], exclude: [], checkpointMs: 60_000, recheckSeconds: 60 } } };
  const broadcast = { bus: null, hub: { binlogRooms: () => [], breakRoom() {} }, store: { attach() {} } };
  const source = new BinlogSource(
    config as never,
    reader as never,
    broadcast as never,
    { onPressure() {} } as never,
    { findOneBy: async () => null } as never,
    { child: () => log } as never,
    { registry: new Registry() } as never,
  );
  return { source, delays };
}

const rotate = { getEventName: () => 'rotate', binlogName: 'binlog.000001', timestamp: 0, nextPosition: 4, position: 4 } as RawBinlogEvent;

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
