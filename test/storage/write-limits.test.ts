import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { once } from 'node:events';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { crc64Of } from '../../src/storage/crc64.js';
import { addUser, signIn, type Browser } from '../access/people.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { dozenOssEnv, startOssStandIn, type OssStandIn } from '../support/oss-standin.js';
import { GiveUp, waitFor } from '../support/ports.js';

const KIB = 1024;
const MAX = 1024 * KIB;
const json = (body: unknown) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** A body of `size` bytes made as it is read, counting what the client was asked for. */
function lazyBody(size: number): { body: Readable; sent(): number } {
  let sent = 0;
  const chunk = Buffer.alloc(64 * KIB, 'z');
  const body = Readable.from((function* () {
    while (sent < size) {
      const next = chunk.subarray(0, Math.min(chunk.length, size - sent));
      sent += next.length;
      yield next;
    }
  })());
  return { body, sent: () => sent };
}

/**
 * A part PUT whose body is held back after its first `first` bytes until `go` resolves: the request is
 * in the server's hands (checked, writing) while the test does something else.
 */
function heldPart(dozen: DozenProcess, token: string, path: string, data: Buffer, first: number, go: Promise<void>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sending = request(dozen.url + path, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-length': String(data.length) } }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    sending.on('error', reject);
    sending.write(data.subarray(0, first));
    void go.then(() => sending.end(data.subarray(first)));
  });
}

interface Store {
  env: Record<string, string>;
  close(): Promise<void>;
}

/** What one caller may put into the store, the same on every store. */
function writeLimitsSuite(name: string, open: () => Promise<Store>): void {
  describe(`write limits (${name}, storage.maxObjectBytes 1 MiB, storage.maxOpenUploads 3)`, { timeout: 120_000 }, () => {
    let dozen: DozenProcess;
    let store: Store;
    let appToken: string;
    const asApp = (path: string, init: RequestInit & { duplex?: 'half' } = {}) => fetch(dozen.url + path, { ...init, headers: { authorization: `Bearer ${appToken}`, ...(init.headers as Record<string, string>) } });
    const exists = async (key: string) => (await dozen.api(`/storage/objects/${key}`, { method: 'HEAD' })).status === 200;
    const assertTooLarge = async (response: Response, message: RegExp) => {
      const body = await response.json();
      assert.equal(response.status, 413, JSON.stringify(body));
      assert.equal(body.error, 'payload_too_large');
      assert.equal(body.maxObjectBytes, MAX);
      assert.match(body.message, message);
    };

    before(async () => {
      store = await open();
      dozen = await startDozen({ env: { ...store.env, DOZEN_STORAGE_MAX_OBJECT_BYTES: String(MAX), DOZEN_STORAGE_MAX_OPEN_UPLOADS: '3' } });
      const created = await dozen.api('/tokens', { method: 'POST', ...json({ name: 'app1', scopes: ['storage'], prefix: 'logs/app1/' }) });
      appToken = (await created.json()).token;
    });
    after(async () => {
      await dozen?.stop();
      await store?.close();
    });

    it('refuses a PUT declaring more than the limit with 413 before reading its body', async () => {
      const { body, sent } = lazyBody(300 * 1024 * KIB);
      const response = await asApp('/storage/objects/logs/app1/huge.bin', { method: 'PUT', body: Readable.toWeb(body) as ReadableStream, duplex: 'half', headers: { 'content-length': String(300 * 1024 * KIB) } });
      await assertTooLarge(response, /^a body of 314572800 bytes would make an object larger than 1048576 bytes \(storage\.maxObjectBytes\); nothing was stored$/);
      assert.ok(sent() < 64 * 1024 * KIB, `the client was asked for ${sent()} bytes of the 300 MiB`);
      assert.equal(await exists('logs/app1/huge.bin'), false);
    });

    it('reads and drops the rest of a refused body for a few seconds only: a client that goes on sending is cut off', async () => {
      const socket = connect(Number(new URL(dozen.url).port), '127.0.0.1');
      await once(socket, 'connect');
      socket.write(`PUT /storage/objects/logs/app1/endless.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${appToken}\r\nContent-Length: ${1024 * 1024 * KIB}\r\n\r\n`);
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.on('error', () => {});
      const started = Date.now();
      const garbage = Buffer.alloc(64 * KIB, 'g');
      const pump = setInterval(() => socket.writable && socket.write(garbage), 5);
      await closed;
      clearInterval(pump);
      assert.match(answer, /^HTTP\/1\.1 413 /, 'the answer came before the cut');
      const seconds = (Date.now() - started) / 1000;
      assert.ok(seconds < 15, `the connection was cut after ${seconds} s`);
    });

    it('stops a chunked PUT at the limit, storing nothing, and stores one of exactly the limit', async () => {
      const { body } = lazyBody(MAX + 1);
      const response = await asApp('/storage/objects/logs/app1/chunked.bin', { method: 'PUT', body: Readable.toWeb(body) as ReadableStream, duplex: 'half' });
      await assertTooLarge(response, /^the body would make an object larger than 1048576 bytes/);
      assert.equal(await exists('logs/app1/chunked.bin'), false);
      const exact = await asApp('/storage/objects/logs/app1/exact.bin', { method: 'PUT', body: Readable.toWeb(lazyBody(MAX).body) as ReadableStream, duplex: 'half' });
      assert.equal(exact.status, 201, await exact.text());
      assert.equal((await dozen.api('/storage/objects/logs/app1/exact.bin', { method: 'HEAD' })).headers.get('content-length'), String(MAX));
    });

    it('counts the parts of a resumable upload together: a part that would take them over is refused, a re-sent one replaces its first send', async () => {
      const { uploadId } = await (await asApp('/storage/uploads', { method: 'POST', ...json({ key: 'logs/app1/parts.bin' }) })).json();
      const part = (number: number, size: number) => asApp(`/storage/uploads/${uploadId}/parts/${number}`, { method: 'PUT', body: Buffer.alloc(size, String(number)) });
      assert.equal((await part(1, 600 * KIB)).status, 200);
      await assertTooLarge(await part(2, 600 * KIB), /^part 2, with the 614400 bytes of the other parts, would make an object larger than 1048576 bytes/);
      assert.equal((await part(2, 400 * KIB)).status, 200);
      await assertTooLarge(await part(1, 700 * KIB), /^part 1, with the 409600 bytes of the other parts,/);
      assert.equal((await part(1, 624 * KIB)).status, 200);
      const described = await (await asApp(`/storage/uploads/${uploadId}`)).json();
      assert.deepEqual(described.parts.map((stored: { partNumber: number; size: number }) => [stored.partNumber, stored.size]), [[1, 624 * KIB], [2, 400 * KIB]]);
      const complete = await asApp(`/storage/uploads/${uploadId}/complete`, { method: 'POST' });
      assert.equal(complete.status, 201, await complete.clone().text());
      assert.equal((await complete.json()).crc64, crc64Of(Buffer.concat([Buffer.alloc(624 * KIB, '1'), Buffer.alloc(400 * KIB, '2')])));
    });

    it('refuses to complete parts sent side by side that are together over the limit, and keeps the upload', async () => {
      // Part 1 is checked (nothing else stored yet) and held mid-body while part 2 is checked and stored. Nothing
      // tells the test when the server has checked part 1; when part 2 was stored first, part 1 is refused at its
      // own check (right too, but not the case under test: about one run in eight), and the case is set up again.
      let uploadId = '';
      for (let attempt = 1; ; attempt++) {
        ({ uploadId } = await (await asApp('/storage/uploads', { method: 'POST', ...json({ key: 'logs/app1/side-by-side.bin' }) })).json());
        let release = () => {};
        const released = new Promise<void>((resolve) => (release = resolve));
        const first = heldPart(dozen, appToken, `/storage/uploads/${uploadId}/parts/1`, Buffer.alloc(600 * KIB, 'a'), 100 * KIB, released);
        const second = await asApp(`/storage/uploads/${uploadId}/parts/2`, { method: 'PUT', body: Buffer.alloc(600 * KIB, 'b') });
        assert.equal(second.status, 200, await second.text());
        release();
        const firstStatus = (await first).status;
        if (firstStatus === 200) break;
        assert.equal(firstStatus, 413, 'part 1, checked after part 2 was stored');
        assert.ok(attempt < 5, 'part 1 was never checked before part 2 was stored');
        assert.equal((await asApp(`/storage/uploads/${uploadId}`, { method: 'DELETE' })).status, 204);
      }
      await assertTooLarge(await asApp(`/storage/uploads/${uploadId}/complete`, { method: 'POST' }), /^joining the parts' 1228800 bytes would make an object larger than 1048576 bytes/);
      assert.equal(await exists('logs/app1/side-by-side.bin'), false);
      assert.equal((await asApp(`/storage/uploads/${uploadId}`)).status, 200, 'the upload is kept: a part can be sent again, shorter');
    });

    it('lets a deployer (storage.write without storage.delete) add objects but not replace them, not even by an empty PUT', async () => {
      await addUser(dozen, 'dee', 'deployer');
      await addUser(dozen, 'ada', 'admin');
      const deployer = await signIn(dozen, 'dee');
      const admin = await signIn(dozen, 'ada');
      const read = async (key: string) => (await dozen.api(`/storage/objects/${key}`)).text();
      assert.equal((await deployer.fetch('/storage/objects/kept/report.txt', { method: 'PUT', body: 'the report' })).status, 201, 'a new key is the deployer\'s to write');
      for (const body of ['', 'other bytes']) {
        const response = await deployer.fetch('/storage/objects/kept/report.txt', { method: 'PUT', body });
        const refused = await response.json();
        assert.equal(response.status, 403, JSON.stringify(refused));
        assert.deepEqual([refused.error, refused.permission], ['forbidden', 'storage.delete']);
        assert.match(refused.message, /^dee \(role deployer\) may not replace "kept\/report\.txt": replacing an object needs permission storage\.delete/);
        assert.equal(await read('kept/report.txt'), 'the report');
      }
      // Asked for with If-None-Match: *, the refusal is the 412 the client asked for.
      assert.equal((await deployer.fetch('/storage/objects/kept/report.txt', { method: 'PUT', body: 'x', headers: { 'if-none-match': '*' } })).status, 412);
      // A resumable upload of the key is refused at its start, and at its end if the key appeared meanwhile.
      const early = await deployer.fetch('/storage/uploads', { method: 'POST', ...json({ key: 'kept/report.txt' }) });
      assert.equal(early.status, 403, await early.clone().text());
      assert.equal((await early.json()).permission, 'storage.delete');
      const started = await deployer.fetch('/storage/uploads', { method: 'POST', ...json({ key: 'kept/late.txt' }) });
      const { uploadId } = await started.json();
      assert.equal((await deployer.fetch(`/storage/uploads/${uploadId}/parts/1`, { method: 'PUT', body: 'late' })).status, 200);
      assert.equal((await admin.fetch('/storage/objects/kept/late.txt', { method: 'PUT', body: 'first' })).status, 201);
      const late = await deployer.fetch(`/storage/uploads/${uploadId}/complete`, { method: 'POST' });
      assert.equal(late.status, 403, await late.clone().text());
      assert.equal(await read('kept/late.txt'), 'first');
      // Those who may delete may replace: an admin, and an API token with storage:write (which deletes too).
      assert.equal((await admin.fetch('/storage/objects/kept/report.txt', { method: 'PUT', body: 'by the admin' })).status, 201);
      assert.equal((await asApp('/storage/objects/logs/app1/exact.bin', { method: 'PUT', body: 'by the token' })).status, 201);
      assert.equal((await admin.fetch(`/storage/uploads/${uploadId}/complete`, { method: 'POST' })).status, 201, 'the refused upload was kept');
      assert.equal(await read('kept/late.txt'), 'late');
    });

    it("keeps a resumable upload its starter's: a deployer can neither see, feed, complete nor abandon another's", async () => {
      const deployer = await signIn(dozen, 'dee');
      const admin = await signIn(dozen, 'ada');
      const read = async (key: string) => (await dozen.api(`/storage/objects/${key}`)).text();
      const { uploadId } = await (await admin.fetch('/storage/uploads', { method: 'POST', ...json({ key: 'release/app.js' }) })).json();
      assert.equal((await admin.fetch(`/storage/uploads/${uploadId}/parts/1`, { method: 'PUT', body: 'the real code;' })).status, 200);
      for (const [method, path, body] of [
        ['PUT', `/storage/uploads/${uploadId}/parts/1`, 'injected;'],
        ['PUT', `/storage/uploads/${uploadId}/parts/2`, 'injected;'],
        ['GET', `/storage/uploads/${uploadId}`, undefined],
        ['POST', `/storage/uploads/${uploadId}/complete`, undefined],
        ['DELETE', `/storage/uploads/${uploadId}`, undefined],
      ] as const) {
        const response = await deployer.fetch(path, { method, body });
        const refused = await response.json();
        assert.equal(response.status, 403, `${method} ${path}: ${JSON.stringify(refused)}`);
        assert.deepEqual([refused.error, refused.permission], ['forbidden', 'storage.delete']);
        assert.match(refused.message, /^dee \(role deployer\) did not start upload "[0-9a-f]{32}"/);
      }
      assert.deepEqual((await (await deployer.fetch('/storage/uploads?key=release/app.js')).json()).uploads, [], "another's upload is not listed");
      assert.equal((await (await admin.fetch('/storage/uploads?key=release/app.js')).json()).uploads.length, 1);
      assert.equal((await admin.fetch(`/storage/uploads/${uploadId}/complete`, { method: 'POST' })).status, 201);
      assert.equal(await read('release/app.js'), 'the real code;');
      // The deployer's own upload is theirs to go on with, and one who may replace objects may touch it too.
      const own = await (await deployer.fetch('/storage/uploads', { method: 'POST', ...json({ key: 'kept/own.txt' }) })).json();
      assert.equal((await deployer.fetch(`/storage/uploads/${own.uploadId}/parts/1`, { method: 'PUT', body: 'mine' })).status, 200);
      assert.equal((await deployer.fetch(`/storage/uploads?key=kept/own.txt`)).status, 200);
      assert.equal((await (await deployer.fetch('/storage/uploads?key=kept/own.txt')).json()).uploads.length, 1);
      assert.equal((await admin.fetch(`/storage/uploads/${own.uploadId}`)).status, 200);
      assert.equal((await deployer.fetch(`/storage/uploads/${own.uploadId}/complete`, { method: 'POST' })).status, 201);
      assert.equal(await read('kept/own.txt'), 'mine');
    });

    it('caps the resumable uploads one caller has open (storage.maxOpenUploads 3) with 429, others unaffected', async () => {
      const deployer = await signIn(dozen, 'dee');
      const start = (caller: Browser, key: string) => caller.fetch('/storage/uploads', { method: 'POST', ...json({ key }) });
      const ids: string[] = [];
      for (let index = 0; index < 3; index += 1) {
        const response = await start(deployer, `cap/${index}.bin`);
        assert.equal(response.status, 201);
        ids.push((await response.json()).uploadId);
      }
      const refused = await start(deployer, 'cap/3.bin');
      const body = await refused.json();
      assert.equal(refused.status, 429, JSON.stringify(body));
      assert.deepEqual([body.error, body.maxOpenUploads], ['too_many_uploads', 3]);
      assert.match(body.message, /storage\.maxOpenUploads/);
      assert.equal((await start(await signIn(dozen, 'ada'), 'cap/admin.bin')).status, 201, "another caller's count is its own");
      assert.equal((await deployer.fetch(`/storage/uploads/${ids[0]}`, { method: 'DELETE' })).status, 204);
      assert.equal((await start(deployer, 'cap/3.bin')).status, 201, 'abandoning one frees its place');
    });
  });
}

interface ExpiryStore extends Store {
  /** The store's own multipart uploads dozen has not aborted (local: folders; OSS: initiated, not aborted nor completed). */
  openMultipartUploads(dozen: DozenProcess): Promise<number>;
}

/** Resumable uploads nobody completes are aborted after storage.uploadExpirySeconds without a part, parts and all. */
function expirySuite(name: string, open: () => Promise<ExpiryStore>): void {
  describe(`abandoned uploads (${name}, storage.uploadExpirySeconds 3)`, { timeout: 120_000 }, () => {
    let dozen: DozenProcess;
    let store: ExpiryStore;
    const start = async (key: string) => {
      const started = await dozen.api('/storage/uploads', { method: 'POST', ...json({ key }) });
      assert.equal(started.status, 201, await started.clone().text());
      return (await started.json()).uploadId as string;
    };
    const part = (uploadId: string) => dozen.api(`/storage/uploads/${uploadId}/parts/1`, { method: 'PUT', body: Buffer.alloc(1000, 'p') });
    const exists = async (uploadId: string) => (await dozen.api(`/storage/uploads/${uploadId}`)).status === 200;

    before(async () => {
      store = await open();
      dozen = await startDozen({ env: { ...store.env, DOZEN_STORAGE_UPLOAD_EXPIRY_SECONDS: '3' } });
    });
    after(async () => {
      await dozen?.stop();
      await store?.close();
    });

    it('aborts an upload that gets no part for the expiry, keeps one that does, and records it in the audit trail', async () => {
      const idle = await start('abandoned/idle.bin');
      const idleWithPart = await start('abandoned/with-part.bin');
      const busy = await start('abandoned/busy.bin');
      assert.equal((await part(idleWithPart)).status, 200);
      assert.equal(await store.openMultipartUploads(dozen), 3);
      // The busy upload gets a part at every look, so it is never idle for long; the others only wait.
      await waitFor('the idle uploads expired', async () => {
        const sent = await part(busy);
        if (sent.status !== 200) throw new GiveUp(`a part of the busy upload: ${sent.status} ${await sent.text()}`);
        return !(await exists(idle)) && !(await exists(idleWithPart));
      }, 60_000, 200);
      assert.ok(await exists(busy), 'the upload still getting parts is kept');
      assert.deepEqual((await (await dozen.api('/storage/uploads')).json()).uploads.map((upload: { key: string }) => upload.key), ['abandoned/busy.bin']);
      assert.equal(await store.openMultipartUploads(dozen), 1, 'the store dropped the expired uploads\' parts');
      const events = (await (await dozen.api('/audit?module=storage&action=upload.expire')).json()).events;
      assert.deepEqual(events.map((event: { actor: string; target: string; outcome: string }) => [event.actor, event.target, event.outcome]).sort(), [
        ['dozen', 'abandoned/idle.bin', 'ok'],
        ['dozen', 'abandoned/with-part.bin', 'ok'],
      ]);
      assert.equal((await dozen.api(`/storage/uploads/${busy}/complete`, { method: 'POST' })).status, 201);
    });
  });
}

writeLimitsSuite('local store', async () => ({ env: { DOZEN_MODULES: 'storage' }, close: async () => undefined }));
writeLimitsSuite('oss store, against the OSS API stand-in', async () => {
  const standIn: OssStandIn = await startOssStandIn();
  return { env: dozenOssEnv(standIn), close: () => standIn.close() };
});
expirySuite('local store', async () => ({
  env: { DOZEN_MODULES: 'storage' },
  openMultipartUploads: async (dozen) => (await readdir(join(dozen.dataDir, 'objects', 'multipart')).catch(() => [])).length,
  close: async () => undefined,
}));
expirySuite('oss store, against the OSS API stand-in', async () => {
  const standIn: OssStandIn = await startOssStandIn();
  return { env: dozenOssEnv(standIn), openMultipartUploads: async () => standIn.uploads.size, close: () => standIn.close() };
});
