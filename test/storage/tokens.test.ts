import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../support/cli.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';

describe('storage with API tokens', { timeout: 90_000 }, () => {
  let dozen: DozenProcess;
  let work: string;
  const json = (body: unknown) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const tokenFor = async (scopes: string[], prefix?: string): Promise<string> => {
    const response = await dozen.api('/tokens', { method: 'POST', ...json({ name: `test ${scopes.join(' ')} ${prefix ?? ''}`, scopes, prefix }) });
    const body = await response.json();
    assert.equal(response.status, 201, JSON.stringify(body));
    return body.token;
  };
  const as = (token: string) => (path: string, init: RequestInit = {}) =>
    fetch(dozen.url + path, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });
  const exists = async (key: string) => (await dozen.api(`/storage/objects/${key}`, { method: 'HEAD' })).status === 200;
  const assertRefused = async (response: Response, status: number, error: string, message: RegExp) => {
    const body = await response.json();
    assert.equal(response.status, status, JSON.stringify(body));
    assert.equal(body.error, error, JSON.stringify(body));
    assert.match(body.message, message);
    return { body, challenge: response.headers.get('www-authenticate') };
  };

  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'storage' } });
    work = await mkdtemp(join(tmpdir(), 'dozen-tokens-'));
    assert.equal((await dozen.api('/storage/objects/secret/admin.txt', { method: 'PUT', body: 'admin only' })).status, 201);
    assert.equal((await dozen.api('/storage/objects/logs/app2/other.log', { method: 'PUT', body: 'app2' })).status, 201);
  });
  after(async () => {
    await dozen?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('a write token stores, replaces and deletes objects, but may not read them', async () => {
    const writer = as(await tokenFor(['storage:write']));
    assert.equal((await writer('/storage/objects/w/one.txt', { method: 'PUT', body: 'one' })).status, 201);
    assert.equal((await writer('/storage/objects/w/two.txt', { method: 'POST', body: 'two' })).status, 201);
    assert.equal(await (await dozen.api('/storage/objects/w/one.txt')).text(), 'one');
    const { body, challenge } = await assertRefused(await writer('/storage/objects/w/one.txt'), 403, 'insufficient_scope', /needs scope storage:read; this token has storage:write/);
    assert.equal(body.scope, 'storage:read');
    assert.equal(challenge, 'Bearer realm="dozen", error="insufficient_scope", scope="storage:read"');
    await assertRefused(await writer('/storage/objects?prefix=w/'), 403, 'insufficient_scope', /storage:read/);
    assert.equal((await writer('/storage/objects/w/two.txt', { method: 'DELETE' })).status, 204);
    assert.equal(await exists('w/two.txt'), false);
  });

  it('a read-only token is refused on PUT (403, nothing stored) and reads, heads and lists', async () => {
    const reader = as(await tokenFor(['storage:read']));
    const { body } = await assertRefused(await reader('/storage/objects/r/new.txt', { method: 'PUT', body: 'x' }), 403, 'insufficient_scope', /PUT \/storage\/objects\/r\/new\.txt needs scope storage:write/);
    assert.equal(body.scope, 'storage:write');
    assert.equal(await exists('r/new.txt'), false);
    await assertRefused(await reader('/storage/objects/secret/admin.txt', { method: 'DELETE' }), 403, 'insufficient_scope', /storage:write/);
    await assertRefused(await reader('/storage/uploads', { method: 'POST', ...json({ key: 'r/big.bin' }) }), 403, 'insufficient_scope', /storage:write/);
    const get = await reader('/storage/objects/secret/admin.txt');
    assert.equal(get.status, 200);
    assert.equal(await get.text(), 'admin only');
    assert.equal((await reader('/storage/objects/secret/admin.txt', { method: 'HEAD' })).status, 200);
    const listed = await (await reader('/storage/objects?prefix=secret/')).json();
    assert.deepEqual(listed.objects.map((object: { key: string }) => object.key), ['secret/admin.txt']);
  });

  it('`storage` grants read and write', async () => {
    const both = as(await tokenFor(['storage']));
    assert.equal((await both('/storage/objects/b/x.txt', { method: 'PUT', body: 'x' })).status, 201);
    assert.equal(await (await both('/storage/objects/b/x.txt')).text(), 'x');
  });

  it('a token with a prefix reaches only keys under it: PUT, GET, HEAD, DELETE', async () => {
    const app1 = as(await tokenFor(['storage'], 'logs/app1/'));
    assert.equal((await app1('/storage/objects/logs/app1/today.log', { method: 'PUT', body: 'mine' })).status, 201);
    assert.equal(await (await app1('/storage/objects/logs/app1/today.log')).text(), 'mine');
    const outside = /this token reaches only keys under "logs\/app1\/"; "logs\/app2\/other\.log" is outside/;
    const { challenge } = await assertRefused(await app1('/storage/objects/logs/app2/other.log', { method: 'PUT', body: 'overwrite' }), 403, 'forbidden', outside);
    assert.equal(challenge, null);
    assert.equal(await (await dozen.api('/storage/objects/logs/app2/other.log')).text(), 'app2');
    await assertRefused(await app1('/storage/objects/logs/app2/other.log'), 403, 'forbidden', outside);
    assert.equal((await app1('/storage/objects/logs/app2/other.log', { method: 'HEAD' })).status, 403);
    await assertRefused(await app1('/storage/objects/logs/app2/other.log', { method: 'DELETE' }), 403, 'forbidden', outside);
    assert.equal(await exists('logs/app2/other.log'), true);
    // The key is checked as the store sees it: percent-decoded, and a sibling that merely starts alike is outside.
    await assertRefused(await app1('/storage/objects/logs%2Fapp2%2Fother.log'), 403, 'forbidden', outside);
    await assertRefused(await app1('/storage/objects/logs/app10/x.log', { method: 'PUT', body: 'x' }), 403, 'forbidden', /"logs\/app10\/x\.log" is outside/);
    // Dot segments start with the prefix but are bad keys: refused before any store is touched.
    const escape = await app1('/storage/objects/logs/app1/..%2F..%2Fsecret%2Fadmin.txt', { method: 'PUT', body: 'x' });
    assert.equal(escape.status, 400);
    assert.equal((await escape.json()).field, 'key');
    assert.equal(await (await dozen.api('/storage/objects/secret/admin.txt')).text(), 'admin only');
  });

  it('a token with a prefix lists only under it', async () => {
    const app1 = as(await tokenFor(['storage:read'], 'logs/app1/'));
    assert.equal((await dozen.api('/storage/objects/logs/app1/listed.log', { method: 'PUT', body: 'x' })).status, 201);
    const inside = await app1('/storage/objects?prefix=logs/app1/');
    assert.equal(inside.status, 200);
    const keys = (await inside.json()).objects.map((object: { key: string }) => object.key);
    assert.ok(keys.includes('logs/app1/listed.log') && keys.every((key: string) => key.startsWith('logs/app1/')), keys.join(' '));
    for (const query of ['', '?prefix=', '?prefix=logs/', '?prefix=logs/app1', '?prefix=secret/', '?prefix=logs/app1/&prefix=secret/']) {
      const response = await app1('/storage/objects' + query);
      assert.equal(response.status, query.includes('&') ? 400 : 403, query);
    }
    // Dot segments start with the token's prefix but climb out: once, the local store walked whatever folder
    // they named and its 400 for the first bad key named a file there. Now the prefix itself is refused.
    await writeFile(join(dozen.dataDir, 'canary-secret.txt'), 'beside the objects');
    for (const prefix of ['logs/app1/../../../../canary', 'logs/app1/../../../../../../etc/sh', 'logs/app1/../']) {
      for (const response of [await app1('/storage/objects?prefix=' + encodeURIComponent(prefix)), await dozen.api('/storage/objects?prefix=' + encodeURIComponent(prefix))]) {
        const body = await response.json();
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.equal(body.field, 'prefix', JSON.stringify(body));
        assert.doesNotMatch(body.message, /canary-secret|shadow/);
      }
    }
    // A last segment is only the start of a name (`logs/app1/..b`), never walked: it lists keys under the token's prefix.
    const partial = await app1('/storage/objects?prefix=' + encodeURIComponent('logs/app1/..'));
    assert.equal(partial.status, 200);
    assert.deepEqual((await partial.json()).objects, []);
  });

  it('a token with a prefix runs resumable uploads only for keys under it, and cannot touch uploads of other keys', async () => {
    const app1 = as(await tokenFor(['storage:write'], 'logs/app1/'));
    await assertRefused(await app1('/storage/uploads', { method: 'POST', ...json({ key: 'secret/big.bin' }) }), 403, 'forbidden', /"secret\/big\.bin" is outside/);
    assert.deepEqual((await (await dozen.api('/storage/uploads?key=secret/big.bin')).json()).uploads, []);
    const noKey = await app1('/storage/uploads', { method: 'POST', ...json({}) });
    assert.equal(noKey.status, 400);
    assert.equal((await noKey.json()).field, 'key');

    const started = await app1('/storage/uploads', { method: 'POST', ...json({ key: 'logs/app1/big.bin' }) });
    assert.equal(started.status, 201);
    const { uploadId } = await started.json();
    assert.equal((await app1(`/storage/uploads/${uploadId}/parts/1`, { method: 'PUT', body: 'part one' })).status, 200);
    assert.equal((await (await app1(`/storage/uploads/${uploadId}`)).json()).parts.length, 1);
    assert.equal((await (await app1('/storage/uploads?key=logs/app1/big.bin')).json()).uploads.length, 1);
    assert.equal((await app1('/storage/uploads')).status, 403, 'all uploads in progress: outside the prefix');
    const completed = await app1(`/storage/uploads/${uploadId}/complete`, { method: 'POST' });
    assert.equal(completed.status, 201, await completed.clone().text());
    assert.equal(await (await dozen.api('/storage/objects/logs/app1/big.bin')).text(), 'part one');

    const foreign = await (await dozen.api('/storage/uploads', { method: 'POST', ...json({ key: 'secret/admin-upload.bin' }) })).json();
    for (const [method, path] of [
      ['GET', `/storage/uploads/${foreign.uploadId}`],
      ['PUT', `/storage/uploads/${foreign.uploadId}/parts/1`],
      ['POST', `/storage/uploads/${foreign.uploadId}/complete`],
      ['DELETE', `/storage/uploads/${foreign.uploadId}`],
    ]) {
      await assertRefused(await app1(path, { method, ...(method === 'PUT' ? { body: 'evil' } : {}) }), 403, 'forbidden', /"secret\/admin-upload\.bin" is outside/);
    }
    const still = await (await dozen.api(`/storage/uploads/${foreign.uploadId}`)).json();
    assert.deepEqual(still.parts, []);
    assert.equal((await app1('/storage/uploads/0123456789abcdef0123456789abcdef', { method: 'DELETE' })).status, 404);
  });

  it('dozen upload works with a storage token in DOZEN_TOKEN, also resumably; a read-only token fails with one line', async () => {
    const file = join(work, 'report.txt');
    await writeFile(file, 'report\n');
    const big = join(work, 'big.bin');
    await writeFile(big, Buffer.alloc(350 * 1024, 'dozen'));
    const writer = { DOZEN_URL: dozen.url, DOZEN_TOKEN: await tokenFor(['storage:write'], 'apps/app1/') };

    const single = await runCli(['upload', file, 'apps/app1/report.txt'], writer);
    assert.equal(single.code, 0, single.stderr);
    assert.equal(await (await dozen.api('/storage/objects/apps/app1/report.txt')).text(), 'report\n');
    const resumable = await runCli(['upload', big, 'apps/app1/big.bin', '--threshold', '100KiB', '--part-size', '100KiB', '--json'], writer);
    assert.equal(resumable.code, 0, resumable.stderr);
    assert.equal(JSON.parse(resumable.stdout).partsSent, 4);
    assert.equal((await dozen.api('/storage/objects/apps/app1/big.bin', { method: 'HEAD' })).headers.get('content-length'), String(350 * 1024));

    const outside = await runCli(['upload', file, 'apps/app2/report.txt'], writer);
    assert.equal(outside.code, 1);
    assert.equal(outside.stderr, 'dozen: 403 this token reaches only keys under "apps/app1/"; "apps/app2/report.txt" is outside\n');

    const reader = { DOZEN_URL: dozen.url, DOZEN_TOKEN: await tokenFor(['storage:read']) };
    const refused = await runCli(['upload', file, 'apps/app1/again.txt'], reader);
    assert.notEqual(refused.code, 0);
    assert.equal(refused.stderr, 'dozen: 403 PUT /storage/objects/apps/app1/again%2Etxt needs scope storage:write; this token has storage:read\n');
    assert.equal(await exists('apps/app1/again.txt'), false);
  });
});
