import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addUser, signIn, type Browser } from '../access/people.js';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { dozenOssEnv, startOssStandIn, type OssStandIn } from '../support/oss-standin.js';

const SCRIPT = '<script>fetch("/graphql", { method: "POST", headers: { "x-dozen-csrf": document.cookie } })</script>';

/** Objects served from dozen's origin can never run as its pages: the same on every store. */
function downloadSuite(name: string, env: () => Promise<{ env: Record<string, string>; close(): Promise<void> }>): void {
  describe(`object downloads on dozen's origin (${name})`, { timeout: 120_000 }, () => {
    let dozen: DozenProcess;
    let close: () => Promise<void>;
    let admin: Browser;
    let appToken: string;
    const asApp = (path: string, init: RequestInit = {}) => fetch(dozen.url + path, { ...init, headers: { authorization: `Bearer ${appToken}`, ...(init.headers as Record<string, string>) } });

    before(async () => {
      const store = await env();
      close = store.close;
      dozen = await startDozen({ env: store.env });
      await addUser(dozen, 'ada', 'admin');
      admin = await signIn(dozen, 'ada');
      const created = await dozen.api('/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'app1', scopes: ['storage'], prefix: 'logs/app1/' }) });
      appToken = (await created.json()).token;
    });
    after(async () => {
      await dozen?.stop();
      await close?.();
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
  });
}

downloadSuite('local store', async () => ({ env: { DOZEN_MODULES: 'storage' }, close: async () => undefined }));
downloadSuite('oss store, against the OSS API stand-in', async () => {
  const standIn: OssStandIn = await startOssStandIn();
  return { env: dozenOssEnv(standIn), close: () => standIn.close() };
});
