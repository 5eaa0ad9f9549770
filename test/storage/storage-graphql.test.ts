import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crc64Of } from '../../src/storage/crc64.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { dozenOssEnv, startOssStandIn, type OssStandIn } from '../support/oss-standin.js';
import { waitFor } from '../support/ports.js';

function graphql(dozen: () => DozenProcess) {
  return async (query: string, variables: Record<string, unknown> = {}) => {
    const response = await dozen().api('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
    const body = await response.json();
    assert.equal(response.status, 200, JSON.stringify(body));
    return body;
  };
}

const PAGE = 'query ($prefix: String, $cursor: String, $limit: Int) { objects(prefix: $prefix, cursor: $cursor, limit: $limit) { objects { key size crc64 contentType etag modified } nextCursor } }';

describe('storage GraphQL (local store, tailer on)', { timeout: 60_000 }, () => {
  let dozen: DozenProcess;
  let logs: string;
  const query = graphql(() => dozen);
  const bodies = new Map([
    ['gql/a.txt', 'alpha'],
    ['gql/b.json', '{"b":2}'],
    ['gql/c/d.html', '<p>d</p>'],
    ['other/e.txt', 'e'],
  ]);

  before(async () => {
    logs = await mkdtemp(join(tmpdir(), 'dozen-gql-logs-'));
    dozen = await startDozen({
      env: {
        DOZEN_MODULES: 'storage',
        DOZEN_HOST_NAME: 'gql-host',
        DOZEN_STORAGE_TAIL: JSON.stringify([{ glob: join(logs, '*.log') }]),
        DOZEN_STORAGE_TAILER_FLUSH_MS: '100',
        DOZEN_STORAGE_TAILER_SCAN_MS: '100',
      },
    });
    // Bytes, not strings: fetch would label a string text/plain, and the content type is to come from the key.
    for (const [key, body] of bodies) assert.equal((await dozen.api(`/storage/objects/${key}`, { method: 'PUT', body: Buffer.from(body) })).status, 201);
  });
  after(async () => {
    await dozen?.stop();
    await rm(logs, { recursive: true, force: true });
  });

  it('objects pages through a prefix with key, size, crc64, content type and a cursor', async () => {
    const first = await query(PAGE, { prefix: 'gql/', limit: 2 });
    assert.deepEqual(first.data.objects.objects.map((object: { key: string }) => object.key), ['gql/a.txt', 'gql/b.json']);
    assert.ok(first.data.objects.nextCursor);
    const second = await query(PAGE, { prefix: 'gql/', limit: 2, cursor: first.data.objects.nextCursor });
    assert.equal(second.data.objects.nextCursor, null);
    const objects = [...first.data.objects.objects, ...second.data.objects.objects];
    assert.deepEqual(
      objects.map((object: { key: string; size: number; crc64: string; contentType: string }) => [object.key, object.size, object.crc64, object.contentType.split(';')[0]]),
      [
        ['gql/a.txt', 5, crc64Of(Buffer.from('alpha')), 'text/plain'],
        ['gql/b.json', 7, crc64Of(Buffer.from('{"b":2}')), 'application/json'],
        ['gql/c/d.html', 8, crc64Of(Buffer.from('<p>d</p>')), 'text/html'],
      ],
    );
    assert.ok(objects.every((object: { modified: string; etag: string }) => !Number.isNaN(Date.parse(object.modified)) && object.etag));
    const everything = await query('{ objects { objects { key } nextCursor } }');
    assert.deepEqual(everything.data.objects.objects.map((object: { key: string }) => object.key), [...bodies.keys()].sort());
  });

  it('object answers one object, null for a missing one, and an error naming the key for a bad one', async () => {
    const found = await query('query ($key: String!) { object(key: $key) { key size crc64 contentType } }', { key: 'gql/b.json' });
    assert.deepEqual(found.data.object, { key: 'gql/b.json', size: 7, crc64: crc64Of(Buffer.from('{"b":2}')), contentType: found.data.object.contentType });
    assert.match(found.data.object.contentType, /^application\/json/);
    assert.equal((await query('{ object(key: "gql/none") { key } }')).data.object, null);
    for (const key of ['../etc/passwd', '/absolute', 'a//b', '']) {
      const bad = await query('query ($key: String!) { object(key: $key) { key } }', { key });
      assert.match(bad.errors?.[0]?.message ?? '', /^key: object key /, `${JSON.stringify(key)}: ${JSON.stringify(bad)}`);
    }
  });

  it('deleteObject removes an object (true also when it is gone) and refuses a bad key', async () => {
    assert.equal((await query('mutation { deleteObject(key: "other/e.txt") }')).data.deleteObject, true);
    assert.equal((await dozen.api('/storage/objects/other/e.txt', { method: 'HEAD' })).status, 404);
    assert.equal((await query('mutation { deleteObject(key: "other/e.txt") }')).data.deleteObject, true);
    const bad = await query('mutation { deleteObject(key: "x/../y") }');
    assert.match(bad.errors[0].message, /^key: object key "x\/\.\.\/y" must not contain \. or \.\. segments/);
    // The same code, status and field a REST client reads from the 400 body.
    assert.deepEqual(bad.errors[0].extensions, { code: 'bad_request', status: 400, field: 'key' });
  });

  it('objects refuses a limit out of range and an over-long prefix, naming the argument', async () => {
    const zero = await query('{ objects(limit: 0) { nextCursor } }');
    assert.match(zero.errors[0].message, /^limit: must be an integer from 1 to 1000/);
    assert.deepEqual(zero.errors[0].extensions, { code: 'bad_request', status: 400, field: 'limit' });
    assert.match((await query('{ objects(limit: 1001) { nextCursor } }')).errors[0].message, /^limit: /);
    assert.match((await query('query ($prefix: String) { objects(prefix: $prefix) { nextCursor } }', { prefix: 'p'.repeat(1024) })).errors[0].message, /^prefix: /);
  });

  it('objects refuses a prefix that climbs out of the store, naming nothing found there', async () => {
    await writeFile(join(dozen.dataDir, 'canary-secret.txt'), 'beside the objects');
    for (const prefix of ['gql/../../../canary', 'gql/../../../../../../etc/sh', '../']) {
      const body = await query('query ($prefix: String) { objects(prefix: $prefix) { objects { key } } }', { prefix });
      assert.match(body.errors?.[0]?.message ?? '', /^prefix: .* must not contain \. or \.\. segments$/, JSON.stringify(body));
      assert.deepEqual(body.errors[0].extensions, { code: 'bad_request', status: 400, field: 'prefix' });
      assert.doesNotMatch(JSON.stringify(body), /canary-secret|shadow/);
    }
  });

  it('tailStatus shows the followed file, its offset, lag and last error', async () => {
    const path = join(logs, 'web.log');
    const lines = 'GET /\nGET /about\n';
    await appendFile(path, lines);
    const status = async () => (await query('{ tailStatus { enabled storeUp lagBytes lagSeconds files { path source objectKey offset size lagBytes lagSeconds rotated lastError } } }')).data.tailStatus;
    await waitFor('the file shipped', async () => (await status()).files[0]?.offset === lines.length, 15_000, 100);
    const shown = await status();
    assert.deepEqual(shown, {
      enabled: true,
      storeUp: true,
      lagBytes: 0,
      lagSeconds: 0,
      files: [{ path, source: join(logs, '*.log'), objectKey: `logs/gql-host/web.log/${new Date().toISOString().slice(0, 10)}.log`, offset: lines.length, size: lines.length, lagBytes: 0, lagSeconds: 0, rotated: false, lastError: null }],
    });
  });
});

describe('storage GraphQL on the oss store signing v4 (against the OSS API stand-in)', { timeout: 60_000 }, () => {
  let standIn: OssStandIn;
  let dozen: DozenProcess;
  const query = graphql(() => dozen);
  before(async () => {
    standIn = await startOssStandIn({ signatures: ['v4'] });
    dozen = await startDozen({ env: dozenOssEnv(standIn, 'v4') });
  });
  after(async () => {
    await dozen?.stop();
    await standIn?.close();
  });

  it('lists the whole bucket (no prefix) with each object HEADed for crc64 and content type', async () => {
    for (const key of ['one.txt', 'two/three.txt']) assert.equal((await dozen.api(`/storage/objects/${key}`, { method: 'PUT', body: key })).status, 201);
    const body = await query('{ objects { objects { key crc64 contentType } nextCursor } }');
    assert.deepEqual(body.data?.objects, {
      objects: [
        { key: 'one.txt', crc64: crc64Of(Buffer.from('one.txt')), contentType: standIn.objects.get('one.txt')?.contentType },
        { key: 'two/three.txt', crc64: crc64Of(Buffer.from('two/three.txt')), contentType: standIn.objects.get('two/three.txt')?.contentType },
      ],
      nextCursor: null,
    }, JSON.stringify(body));
    assert.equal((await query('mutation { deleteObject(key: "one.txt") }')).data.deleteObject, true);
    assert.equal(standIn.objects.has('one.txt'), false);
  });

  it('a field whose HEAD the store refuses is null with an error that says what it is, as a query\'s errors do', async () => {
    assert.equal((await dozen.api('/storage/objects/refused.txt', { method: 'PUT', body: 'x' })).status, 201);
    standIn.failNext(1, 403, 'AccessDenied', 'HEAD');
    const body = await query('{ objects(prefix: "refused") { objects { key crc64 } } }');
    assert.deepEqual(body.data?.objects, { objects: [{ key: 'refused.txt', crc64: null }] }, JSON.stringify(body));
    assert.equal(body.errors?.length, 1, JSON.stringify(body));
    const [error] = body.errors!;
    assert.deepEqual(error.path, ['objects', 'objects', 0, 'crc64']);
    assert.match(error.message, /^the store refused HeadObject "refused\.txt": 403/);
    assert.deepEqual(error.extensions, { code: 'store_error', status: 502 });
  });
});
