import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { addUser, signIn, type Browser } from '../access/people.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { dozenOssEnv, startOssStandIn, type OssStandIn } from '../support/oss-standin.js';

const SCRIPT = '<script>fetch("/graphql", { method: "POST", headers: { "x-dozen-csrf": document.cookie } })</script>';

interface Store {
  env: Record<string, string>;
  /** Gives a stored object a content type that is no media type, as no write through dozen can any more: stored before types were checked, or by another client. */
  spoilType(dozen: DozenProcess, key: string): Promise<void>;
  close(): Promise<void>;
}

/** Objects served from dozen's origin can never run as its pages, and their content types are media types: the same on every store. */
function downloadSuite(name: string, env: () => Promise<Store>): void {
  describe(`object downloads on dozen's origin (${name})`, { timeout: 120_000 }, () => {
    let dozen: DozenProcess;
    let store: Store;
    let admin: Browser;
    let appToken: string;
    const asApp = (path: string, init: RequestInit = {}) => fetch(dozen.url + path, { ...init, headers: { authorization: `Bearer ${appToken}`, ...(init.headers as Record<string, string>) } });

    before(async () => {
      store = await env();
      dozen = await startDozen({ env: store.env });
      await addUser(dozen, 'ada', 'admin');
      admin = await signIn(dozen, 'ada');
      const created = await dozen.api('/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'app1', scopes: ['storage'], prefix: 'logs/app1/' }) });
      appToken = (await created.json()).token;
    });
    after(async () => {
      await dozen?.stop();
      await store?.close();
    });

    it('a confined token\'s HTML upload named .txt reaches an admin\'s session as an attachment that may not sniff, script or frame', async () => {
      const put = await asApp('/storage/objects/logs/app1/report.txt', { method: 'PUT', body: SCRIPT, headers: { 'content-type': 'text/html' } });
      assert.equal(put.status, 201, await put.clone().text());
      for (const method of ['GET', 'HEAD']) {
        const response = await admin.fetch('/storage/objects/logs/app1/report.txt', { method });
        assert.equal(response.status, 200, method);
        // The type the uploader gave stays the object's metadata; the other headers make it inert.
        assert.equal(response.headers.get('content-type'), 'text/html', method);
        assert.equal(response.headers.get('x-content-type-options'), 'nosniff', method);
        assert.equal(response.headers.get('content-security-policy'), "default-src 'none'; style-src 'unsafe-inline'; sandbox", method);
        assert.equal(response.headers.get('cross-origin-resource-policy'), 'same-origin', method);
        assert.equal(response.headers.get('content-disposition'), `attachment; filename="report.txt"; filename*=UTF-8''report.txt`, method);
        if (method === 'GET') assert.equal(await response.text(), SCRIPT);
      }
      // The token's own reads, and the admin token's, get the same headers.
      for (const response of [await asApp('/storage/objects/logs/app1/report.txt'), await dozen.api('/storage/objects/logs/app1/report.txt')]) {
        assert.match(response.headers.get('content-disposition') ?? '', /^attachment;/);
        assert.match(response.headers.get('content-security-policy') ?? '', /sandbox/);
      }
    });

    it('SVG (its type guessed from the name) and HTML are attachments; plain text and raster images are shown inline, still sandboxed', async () => {
      const cases: [key: string, type: string | null, disposition: string][] = [
        ['logs/app1/logo.svg', null, `attachment; filename="logo.svg"; filename*=UTF-8''logo.svg`],
        ['logs/app1/page.html', null, 'attachment'],
        ['logs/app1/today.log', 'text/plain; charset=utf-8', 'inline'],
        ['logs/app1/shot.png', null, 'inline'],
        ['logs/app1/报告 (1).svg', null, `attachment; filename="__ (1).svg"; filename*=UTF-8''%E6%8A%A5%E5%91%8A%20%281%29.svg`],
      ];
      for (const [key, type, disposition] of cases) {
        const path = '/storage/objects/' + key.split('/').map(encodeURIComponent).join('/');
        // Bytes, not a string: fetch would label a string text/plain, and some types are to come from the key.
        const put = await asApp(path, { method: 'PUT', body: Buffer.from(SCRIPT), headers: type ? { 'content-type': type } : {} });
        assert.equal(put.status, 201, `${key}: ${await put.clone().text()}`);
        const response = await admin.fetch(path);
        assert.equal(response.status, 200, key);
        assert.ok(response.headers.get('content-disposition')?.startsWith(disposition), `${key}: ${response.headers.get('content-disposition')}`);
        assert.equal(response.headers.get('x-content-type-options'), 'nosniff', key);
        assert.match(response.headers.get('content-security-policy') ?? '', /sandbox/, key);
      }
    });

    it('refuses a Content-Type or contentType that is no RFC 9110 media type with 400 naming the field, storing nothing', async () => {
      for (const contentType of ['text/html, text/plain', 'html', 'text/html; charset']) {
        const put = await asApp('/storage/objects/logs/app1/typed.txt', { method: 'PUT', body: 'x', headers: { 'content-type': contentType } });
        const body = await put.json();
        assert.equal(put.status, 400, `${contentType}: ${JSON.stringify(body)}`);
        assert.equal(body.field, 'Content-Type');
        assert.equal((await dozen.api('/storage/objects/logs/app1/typed.txt', { method: 'HEAD' })).status, 404);
      }
      // A JSON body can carry what no header can: CR LF. Once stored, every GET of the object was a 500.
      const start = await asApp('/storage/uploads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'logs/app1/big.bin', contentType: 'text/html\r\nX-Injected: 1' }) });
      const body = await start.json();
      assert.equal(start.status, 400, JSON.stringify(body));
      assert.deepEqual([body.error, body.field], ['bad_request', 'contentType']);
      assert.deepEqual((await (await dozen.api('/storage/uploads?key=logs/app1/big.bin')).json()).uploads, []);
    });

    it('serves an object whose stored content type is no media type as application/octet-stream, never a 500', async () => {
      assert.equal((await dozen.api('/storage/objects/old/typed.html', { method: 'PUT', body: SCRIPT, headers: { 'content-type': 'text/html' } })).status, 201);
      await store.spoilType(dozen, 'old/typed.html');
      for (const method of ['GET', 'HEAD']) {
        const response = await admin.fetch('/storage/objects/old/typed.html', { method });
        assert.equal(response.status, 200, `${method}: ${await response.text()}\n${dozen.logs().slice(-2000)}`);
        assert.equal(response.headers.get('content-type'), 'application/octet-stream');
        assert.equal(response.headers.get('x-injected'), null);
        assert.match(response.headers.get('content-disposition') ?? '', /^attachment;/);
      }
      assert.equal(await (await dozen.api('/storage/objects/old/typed.html')).text(), SCRIPT);
    });
  });
}

downloadSuite('local store', async () => ({
  env: { DOZEN_MODULES: 'storage' },
  // The sidecar beside the data file (local.object-store.ts), as an older dozen wrote it from a JSON contentType.
  spoilType: async (dozen, key) => {
    const sidecar = join(dozen.dataDir, 'objects', 'meta', key);
    await writeFile(sidecar, JSON.stringify({ ...JSON.parse(await readFile(sidecar, 'utf8')), contentType: 'text/html\r\nX-Injected: 1' }));
  },
  close: async () => undefined,
}));
downloadSuite('oss store, against the OSS API stand-in', async () => {
  const standIn: OssStandIn = await startOssStandIn();
  return {
    env: dozenOssEnv(standIn),
    // A header OSS can send back (a CR LF it cannot): legal in HTTP, but no media type.
    spoilType: async (_dozen, key) => void (standIn.objects.get(key)!.contentType = 'text/html, text/plain'),
    close: () => standIn.close(),
  };
});
