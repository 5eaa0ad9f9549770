import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireBinary } from '../support/debian.js';
import { freePort, waitFor } from '../support/ports.js';
import { ENGINES, sharedTestCa, startProxy, type TestProxy } from './helpers.js';

/** openssl s_client asking for a staple; resolves with what it printed. */
function statusRequest(openssl: string, port: number, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(openssl, ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', name, '-status', '-CAfile', sharedTestCa().caFile], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 10_000 });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('close', () => resolve(out));
    child.stdin.end('');
  });
}

describe('OCSP stapling', { timeout: 60_000 }, () => {
  const openssl = requireBinary('openssl', 'openssl');
  let responder: ChildProcess;
  let responderPort: number;
  let stapled: { certPem: string; keyPem: string };
  let bare: { certPem: string; keyPem: string };

  before(async () => {
    const ca = sharedTestCa();
    responderPort = await freePort();
    const leaf = ca.issue(['ocsp.example.net'], { ocspUrl: `http://127.0.0.1:${responderPort}` });
    // The chain carries the issuer: the server needs it to ask about the leaf.
    stapled = { certPem: leaf.certPem + ca.caPem, keyPem: leaf.keyPem };
    const plain = ca.issue(['bare.example.net']);
    bare = { certPem: plain.certPem + ca.caPem, keyPem: plain.keyPem };
    // openssl's own responder, answering from an index that lists the leaf as valid (it takes a port only, and answers on loopback too).
    const x509 = new X509Certificate(leaf.certPem);
    const expiry = new Date(x509.validTo).toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
    const index = join(ca.dir, 'ocsp-index.txt');
    writeFileSync(index, `V\t${expiry}\t\t${x509.serialNumber}\tunknown\t/CN=ocsp.example.net\n`);
    responder = spawn(openssl, ['ocsp', '-index', index, '-port', String(responderPort), '-rsigner', ca.caFile, '-rkey', ca.caKeyFile, '-CA', ca.caFile, '-ndays', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    // It serves one connection at a time: a probe connection could hold it up, so its own word is awaited.
    let said = '';
    responder.stderr!.on('data', (chunk) => (said += chunk));
    await waitFor('the OCSP responder', async () => said.includes('waiting for OCSP client connections'), 10_000, 50);
  });
  after(() => {
    responder?.kill();
  });

  for (const engine of ENGINES) {
    describe(`${engine} engine`, () => {
      let proxy: TestProxy;
      before(async () => {
        proxy = await startProxy({ engine, https: true, tls: { host: '127.0.0.1', port: 0, ocspStapling: true } });
        proxy.server.applyCertificates({ kind: 'put', entry: { domains: ['ocsp.example.net'], ...stapled, source: 'files' } });
        proxy.server.applyCertificates({ kind: 'put', entry: { domains: ['bare.example.net'], ...bare, source: 'files' } });
      });
      after(() => proxy.close());

      it('staples the responder\'s answer for a certificate that names one', async () => {
        const out = await statusRequest(openssl, proxy.port, 'ocsp.example.net');
        assert.match(out, /OCSP Response Status: successful/, out);
        assert.match(out, /Cert Status: good/, out);
      });

      it('serves a certificate without a responder with no staple, quietly', async () => {
        const out = await statusRequest(openssl, proxy.port, 'bare.example.net');
        assert.match(out, /OCSP response: no response sent/, out);
        assert.match(out, /Verify return code: 0 \(ok\)/, out);
      });
    });
  }
});
