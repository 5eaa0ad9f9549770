import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { requireBinary } from '../support/debian.js';
import { freePort } from '../support/ports.js';
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

const run = promisify(execFile);

/**
 * An OCSP responder over HTTP (RFC 6960 appendix A: POST of the DER request, or GET of it in base64)
 * on 127.0.0.1:`port`, each request answered by `openssl ocsp -reqin ... -respout ...` with `args`.
 */
async function startOcspResponder(openssl: string, port: number, args: string[]): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const der = req.method === 'GET' ? Buffer.from(decodeURIComponent(req.url!.slice(1)), 'base64') : Buffer.concat(chunks);
      const dir = mkdtempSync(join(tmpdir(), 'dozen-ocsp-'));
      writeFileSync(join(dir, 'request.der'), der);
      run(openssl, ['ocsp', ...args, '-reqin', join(dir, 'request.der'), '-respout', join(dir, 'response.der')]).then(
        () => res.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(readFileSync(join(dir, 'response.der'))),
        (error: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(error.message),
      ).finally(() => rmSync(dir, { recursive: true, force: true }));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

describe('OCSP stapling', { timeout: 60_000 }, () => {
  const openssl = requireBinary('openssl', 'openssl');
  let responder: Server;
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
    // OpenSSL's own OCSP answers, from an index that lists the leaf as valid, behind an HTTP server on
    // loopback: `openssl ocsp -port` takes a port only and would listen on every interface.
    const x509 = new X509Certificate(leaf.certPem);
    const expiry = new Date(x509.validTo).toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
    const index = join(ca.dir, 'ocsp-index.txt');
    writeFileSync(index, `V\t${expiry}\t\t${x509.serialNumber}\tunknown\t/CN=ocsp.example.net\n`);
    responder = await startOcspResponder(openssl, responderPort, ['-index', index, '-rsigner', ca.caFile, '-rkey', ca.caKeyFile, '-CA', ca.caFile, '-ndays', '1']);
  });
  after(() => {
    responder?.close();
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
