import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ExchangeRecord } from '../../src/proxy/forward.js';
import { seededRandom } from '../support/mutation.js';
import { ENGINES, startProxy, type TestProxy } from './helpers.js';
import { RawClient, startRecordingBackend, type Recorded, type RecordingBackend, type Response } from './recording-backend.js';

/** How many request shapes; fixed seed, so a failure names a case that can be run again. */
const CASES = 3_000;
const SEED = 12;
const PARALLEL = 24;

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];
const TARGETS = ['/', '/a/b', '//admin', '/./admin', '/x/../admin', '/%61dmin', '/a%2fb', '/a%00', '/a%zz', '/ADMIN/', 'http://diff.test/abs', 'HTTP://OTHER.TEST/x', 'http://nobody.test/x', 'ftp://diff.test/x', '/a?x=/../y', '/~u/%7e/./b//'];
const HOSTS = ['Host: diff.test', 'host: DIFF.TEST:80', 'Host: other.test', 'Host:', null, 'Host: diff.test\r\nHost: other.test', 'Host: nobody.test', 'Host_: diff.test'];
const LENGTH_NAMES = ['Content-Length', 'content-length', 'CONTENT-LENGTH', 'Content_Length', 'Content-Length ', ' Content-Length'];
const TE_NAMES = ['Transfer-Encoding', 'transfer-encoding', 'Transfer_Encoding', 'Transfer-Encoding '];
const TE_VALUES = ['chunked', 'Chunked', 'gzip, chunked', 'xchunked', 'identity', 'chunked, identity', 'chunked, chunked', ' chunked', 'chunked\t', 'deflate,chunked'];
const CONNECTIONS = [null, 'keep-alive', 'close', 'Content-Length', 'keep-alive, Content-Length', 'Transfer-Encoding', 'Host', 'x-a, Host, Content-Length, Transfer-Encoding', 'Upgrade', 'TE, Keep-Alive'];
const EXTRA = [null, 'X_Dozen_Subject: root', 'X-Dozen-Subject: root', 'Expect: 100-continue', 'Trailer: X-T', 'X-Forwarded-For: 6.6.6.6', 'Keep-Alive: timeout=1', 'TE: trailers'];

interface Shape {
  index: number;
  bytes: string;
}

/** One request shape: method, target, Host, framing (length, chunks, both, neither, spelled oddly), Connection list, a body that may hold a request. */
function shape(index: number, pick: <T>(list: readonly T[]) => T, chance: (p: number) => boolean): Shape {
  const tag = `case=${index}`;
  // Most shapes get a routable head, so the framing and Connection variants are what decides.
  const target = chance(0.5) ? pick(['/', '/a/b', '/x/../admin', 'http://diff.test/abs']) : pick(TARGETS);
  const tagged = target + (target.includes('?') ? '&' : '?') + tag;
  const version = chance(0.1) ? 'HTTP/1.0' : 'HTTP/1.1';
  const lines = [`${pick(METHODS)} ${tagged} ${version}`];
  const host = chance(0.7) ? 'Host: diff.test' : pick(HOSTS);
  if (host !== null) lines.push(host);
  const connection = pick(CONNECTIONS);
  if (connection !== null) lines.push(`Connection: ${connection}`);
  const extra = pick(EXTRA);
  if (extra !== null) lines.push(extra);
  const smuggled = `GET /smuggled?${tag} HTTP/1.1\r\nHost: diff.test\r\n\r\n`;
  const payload = chance(0.5) ? smuggled : 'x'.repeat(pick([0, 1, 5, 17]));
  let body = '';
  const framing = pick(['none', 'length', 'chunked', 'both', 'length-twice', 'chunked-bad', 'chunked-trailer']);
  if (framing === 'length' || framing === 'both' || framing === 'length-twice') {
    const length = chance(0.8) ? payload.length : Math.max(0, payload.length - pick([1, 5, 20]));
    lines.push(`${pick(LENGTH_NAMES)}: ${length}`);
    if (framing === 'length-twice') lines.push(`Content-Length: ${chance(0.5) ? length : length + 1}`);
    body = payload;
  }
  if (framing.startsWith('chunked') || framing === 'both') {
    lines.push(`${pick(TE_NAMES)}: ${pick(TE_VALUES)}`);
    const size = framing === 'chunked-bad' ? pick(['zz', '-1', '1 ;', '0x3']) : payload.length.toString(16);
    const trailer = framing === 'chunked-trailer' ? `X-T: 1\r\n` : '';
    body = payload.length ? `${size}\r\n${payload}\r\n0\r\n${trailer}\r\n` : `0\r\n${trailer}\r\n`;
  }
  if (framing === 'none' && payload.length && chance(0.3)) body = payload; // bytes after a bodiless head: the next request
  const followUp = `GET /follow-up?${tag} HTTP/1.1\r\nHost: diff.test\r\n\r\n`;
  return { index, bytes: lines.join('\r\n') + '\r\n\r\n' + body + followUp };
}

const tagOf = (url: string) => Number(/[?&]case=(\d+)/.exec(url)?.[1] ?? -1);

/**
 * Thousands of generated request shapes through dozen to a backend that
 * records what its own strict parser reads: for each, dozen either refused
 * it, or the backend read exactly the messages dozen logged (method,
 * target, body length), in order; every answer the client got is its own;
 * and a connection dozen kept open answers the follow-up request.
 */
for (const engine of ENGINES) {
  describe(`proxy differential: what dozen logs is what the backend reads (${engine} engine)`, { timeout: 120_000 }, () => {
    let proxy: TestProxy;
    let backend: RecordingBackend;

    before(async () => {
      proxy = await startProxy({ engine, upstreamConnections: 8, upstreamMaxConnections: 8 });
      backend = await startRecordingBackend();
      const at = (name: string) => ({ instance: name, app: name, address: '127.0.0.1', port: backend.port, host: 'test', load: null });
      proxy.source.set([
        { app: 'diff', domains: ['diff.test'], backends: [at('diff')] },
        { app: 'other', domains: ['other.test'], backends: [at('other')] },
      ]);
    });
    after(async () => {
      await proxy.close();
      await backend.close();
    });

    it(`${CASES} request shapes (seed ${SEED}): refused, or delivered exactly as logged, and the follow-up answered`, async () => {
      const next = seededRandom(SEED);
      const pick = <T,>(list: readonly T[]): T => list[Math.floor(next() * list.length)];
      const chance = (p: number) => next() < p;
      const shapes = Array.from({ length: CASES }, (_, index) => shape(index, pick, chance));
      const answers = new Map<number, Response[]>();
      let cursor = 0;
      const started = Date.now();
      await Promise.all(
        Array.from({ length: PARALLEL }, async () => {
          while (cursor < shapes.length) {
            const { index, bytes } = shapes[cursor++];
            const client = await RawClient.open(proxy.port);
            client.send(bytes);
            client.socket.end(); // half-close: dozen answers what it read, then closes
            const got: Response[] = [];
            for (let response = await client.next(); response; response = await client.next()) if (response.status !== 100) got.push(response);
            answers.set(index, got);
          }
        }),
      );
      const elapsed = Date.now() - started;

      const delivered = new Map<number, Recorded[]>();
      for (const message of backend.messages) {
        const tag = tagOf(message.url);
        assert.ok(tag >= 0, `the backend read a message dozen never logged: ${message.method} ${message.url}`);
        delivered.set(tag, [...(delivered.get(tag) ?? []), message]);
      }
      const logged = new Map<number, ExchangeRecord[]>();
      for (const record of proxy.records) logged.set(tagOf(record.path), [...(logged.get(tagOf(record.path)) ?? []), record]);

      let refused = 0;
      let forwarded = 0;
      for (const { index, bytes } of shapes) {
        const why = `case ${index}:\n${JSON.stringify(bytes)}`;
        const records = logged.get(index) ?? [];
        // A body that turned out malformed was cut short at the backend: its parser never read a whole message.
        const sent = records.filter((record) => record.backend !== null && record.upstreamError !== 'bad_request_body');
        for (const record of sent) assert.equal(record.upstreamError, null, `${why}\nan upstream error: ${record.upstreamError}`);
        const seen = (delivered.get(index) ?? []).map((message) => [message.method, message.url, message.body.length]);
        assert.deepEqual(seen, sent.map((record) => [record.method, record.path, record.requestBytes]), `${why}\nthe backend read other messages than dozen logged`);
        const got = answers.get(index)!;
        assert.ok(got.length >= 1, `${why}\nno answer at all`);
        for (const response of got) {
          if (response.headers['content-type'] !== 'application/json' || !response.body.startsWith('{"method"')) continue;
          assert.equal(tagOf(JSON.parse(response.body).url), index, `${why}\nan answer meant for another request`);
        }
        const last = got[got.length - 1];
        const followedUp = last.body.includes('/follow-up?');
        assert.ok(followedUp || last.headers.connection === 'close', `${why}\ndozen closed without answering the follow-up and without saying connection: close; got ${JSON.stringify(got)}`);
        if (sent.some((record) => record.path.startsWith('/follow-up'))) assert.ok(followedUp, `${why}\nthe follow-up reached the backend but its answer did not reach the client`);
        if (sent.length === 0 || got.some((response) => response.status >= 400)) refused++;
        if (sent.length) forwarded++;
      }
      console.log(`differential: ${CASES} shapes in ${elapsed} ms; ${forwarded} forwarded something, ${refused} refused something`);
      assert.ok(forwarded > CASES / 10 && refused > CASES / 10, 'the generator should exercise both outcomes');
    });
  });
}
