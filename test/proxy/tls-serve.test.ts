/**
 * HTTPS in a whole `dozen serve` (two proxy workers), with real clients:
 * Debian's curl (--resolve, so SNI and Host name the app) and openssl
 * s_client, against certificates of a tiny test CA given as files.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireBinary } from '../support/debian.js';
import { CLI, startDozen, type DozenProcess } from '../support/dozen-process.js';
import { freePort, waitFor } from '../support/ports.js';
import { makeTestCa, type TestCa } from '../support/test-ca.js';
import { runToEnd } from '../support/run-to-end.js';
import { startBackend, type TestBackend } from './helpers.js';

describe('HTTPS in dozen serve, certificates from files', { timeout: 180_000 }, () => {
  let dozen: DozenProcess;
  let ca: TestCa;
  let web: TestBackend;
  let tlsPort: number;
  let plainPort: number;
  let dir: string;
  const curl = requireBinary('curl', 'curl');
  const openssl = requireBinary('openssl', 'openssl');

  // Clients run asynchronously: the backend answers from this process's event loop.
  /** curl to the TLS listener with `name` resolved to loopback: SNI and Host are `name`. */
  async function curlTls(name: string, path = '/', extra: string[] = []) {
    const result = await runToEnd(curl, ['-sS', '--max-time', '10', '--cacert', ca.caFile, '--resolve', `${name}:${tlsPort}:127.0.0.1`, '-D', '-', '-o', '/dev/null', '-w', '%{ssl_verify_result} %{http_code}\n', ...extra, `https://${name}:${tlsPort}${path}`]);
    return { code: result.status, out: result.stdout, err: result.stderr };
  }

  /** The subject CN and serial of the certificate served for SNI `name` (openssl s_client). */
  async function servedCertificate(name: string): Promise<string> {
    const shown = await runToEnd(openssl, ['s_client', '-connect', `127.0.0.1:${tlsPort}`, '-servername', name, '-CAfile', ca.caFile, '-verify_return_error'], '');
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(shown.stdout)?.[0];
    if (!pem) return `no certificate (${shown.stderr.trim().split('\n').pop()})`;
    return spawnSync(openssl, ['x509', '-noout', '-subject', '-serial', '-nameopt', 'RFC2253'], { input: pem, encoding: 'utf8' }).stdout.trim();
  }

  before(async () => {
    ca = makeTestCa();
    dir = mkdtempSync(join(tmpdir(), 'dozen-tls-files-'));
    const exact = ca.issue(['shop.tls.test'], { name: 'shop' });
    const wildcard = ca.issue(['*.tls.test', 'tls.test'], { name: 'wildcard' });
    copyFileSync(exact.certFile, join(dir, 'shop.pem'));
    copyFileSync(exact.keyFile, join(dir, 'shop.key'));
    tlsPort = await freePort();
    plainPort = await freePort();
    web = await startBackend('web-1');
    dozen = await startDozen({
      env: {
        DOZEN_MODULES: 'proxy,registry',
        DOZEN_PROXY_WORKERS: '2',
        DOZEN_PROXY_LISTEN_PORT: String(plainPort),
        DOZEN_PROXY_TLS_LISTEN_HOST: '127.0.0.1',
        DOZEN_PROXY_TLS_LISTEN_PORT: String(tlsPort),
        DOZEN_PROXY_TLS_CERTIFICATES: JSON.stringify([
          { domains: ['shop.tls.test'], certFile: join(dir, 'shop.pem'), keyFile: join(dir, 'shop.key') },
          { domains: ['*.tls.test', 'tls.test'], certFile: wildcard.certFile, keyFile: wildcard.keyFile },
        ]),
      },
    });
    const registered = await dozen.api('/registry/instances', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'web-1', app: 'web', address: '127.0.0.1', port: web.port, domains: ['shop.tls.test', 'chat.tls.test', 'tls.test'], ttl: 120 }),
    });
    assert.equal(registered.status, 201);
    await waitFor('the route over HTTPS', async () => / 200$/.test((await curlTls('chat.tls.test')).out.trim()), 5_000, 50);
  });
  after(async () => {
    await dozen?.stop();
    await web?.close();
    ca?.remove();
  });

  it('serves the app over HTTPS to curl; SNI picks the exact certificate, then the wildcard', async () => {
    for (const name of ['shop.tls.test', 'chat.tls.test', 'tls.test']) {
      const answer = await curlTls(name, '/hello');
      assert.equal(answer.code, 0, answer.err);
      assert.match(answer.out, /^HTTP\/1\.1 200/, 'HTTP/1.1 though curl offers h2: proxy.tls.http2 is off by default');
      assert.match(answer.out.trim(), /0 200$/, 'verified against the test CA');
    }
    assert.match(await servedCertificate('shop.tls.test'), /^subject=CN=shop\.tls\.test/);
    assert.match(await servedCertificate('chat.tls.test'), /^subject=CN=\*\.tls\.test/);
    assert.match(await servedCertificate('a.b.tls.test'), /^no certificate/, 'a wildcard covers one label only');
  });

  it('refuses TLS 1.1 (the server says protocol_version), and speaks TLS 1.3 and 1.2', async () => {
    // SECLEVEL=0 so the client itself would offer 1.1: the refusal is the server's.
    const old = await curlTls('chat.tls.test', '/', ['--tlsv1.1', '--tls-max', '1.1', '--ciphers', 'DEFAULT@SECLEVEL=0']);
    assert.notEqual(old.code, 0);
    assert.match(old.err, /protocol version|unsupported protocol|wrong version/i, old.err);
    const v13 = await curlTls('chat.tls.test', '/', ['--tlsv1.3']);
    assert.equal(v13.code, 0, v13.err);
    const v12 = await curlTls('chat.tls.test', '/', ['--tlsv1.2', '--tls-max', '1.2']);
    assert.equal(v12.code, 0, v12.err);
  });

  it('resumes a TLS session from a ticket, on either worker (the primary shares the ticket keys)', async () => {
    const session = join(dir, 'session.pem');
    const request = 'GET / HTTP/1.1\r\nHost: chat.tls.test\r\nConnection: close\r\n\r\n';
    const first = await runToEnd(openssl, ['s_client', '-connect', `127.0.0.1:${tlsPort}`, '-servername', 'chat.tls.test', '-CAfile', ca.caFile, '-sess_out', session, '-ign_eof'], request);
    assert.match(first.stdout, /^New, TLSv1\.3/m, first.stderr);
    // Workers take connections in turn: of four resumptions, some reach the worker that did not issue the ticket.
    for (let attempt = 0; attempt < 4; attempt++) {
      const again = await runToEnd(openssl, ['s_client', '-connect', `127.0.0.1:${tlsPort}`, '-servername', 'chat.tls.test', '-CAfile', ca.caFile, '-sess_in', session, '-ign_eof'], request);
      assert.match(again.stdout, /^Reused, TLSv1\.3/m, `attempt ${attempt}: ${again.stdout.split('\n').filter((line) => /New|Reused/.test(line)).join(' ')}`);
      assert.match(again.stdout, /HTTP\/1\.1 200/);
    }
  });

  it('a worker killed with handshakes in progress is replaced by one that serves every certificate and resumes the tickets issued before', async () => {
    const session = join(dir, 'before-kill.pem');
    const request = 'GET / HTTP/1.1\r\nHost: chat.tls.test\r\nConnection: close\r\n\r\n';
    const first = await runToEnd(openssl, ['s_client', '-connect', `127.0.0.1:${tlsPort}`, '-servername', 'chat.tls.test', '-CAfile', ca.caFile, '-sess_out', session, '-ign_eof'], request);
    assert.match(first.stdout, /^New, TLSv1\.3/m, first.stderr);
    /** Whether worker `pid` answered a request for `path` (its access log line). */
    const servedBy = (pid: number, path: string) =>
      dozen.logs().split('\n').some((line) => line.includes('"msg":"request"') && line.includes(`"path":"${path}"`) && (JSON.parse(line) as { pid: number }).pid === pid);
    const listening = () => dozen.logs().split('\n').filter((line) => line.includes('"msg":"proxy worker listening"')).map((line) => JSON.parse(line).pid as number);
    const before = await waitFor('two workers listening', async () => (new Set(listening()).size >= 2 ? [...new Set(listening())] : undefined), 5_000, 50);
    // Handshakes begun and not finished (no ClientHello yet), on both workers.
    const pending = await Promise.all(Array.from({ length: 8 }, () => new Promise<Socket>((resolve) => {
      const socket = connect(tlsPort, '127.0.0.1', () => resolve(socket));
      socket.on('error', () => socket.destroy());
    })));
    try {
      const victim = before[0];
      process.kill(victim, 'SIGKILL');
      const replacement = await waitFor('a replacement worker listening', async () => listening().find((pid) => !before.includes(pid)), 15_000, 50);
      // Until the replacement has served a request of its own, ask again: the kernel or the primary spreads connections.
      await waitFor('the replacement to serve both certificates', async () => {
        // Each name twice in a row: the primary's round robin would otherwise give each name the same worker every time.
        for (const name of ['shop.tls.test', 'shop.tls.test', 'chat.tls.test', 'chat.tls.test']) {
          const answer = await curlTls(name, `/after-kill/${name}`);
          assert.equal(answer.code, 0, answer.err);
          assert.match(answer.out.trim(), /0 200$/, `${name}: ${answer.out}`);
        }
        return ['shop.tls.test', 'chat.tls.test'].every((host) => servedBy(replacement, `/after-kill/${host}`));
      }, 20_000, 0);
      // The ticket from before the kill resumes on the replacement too: the primary gave it the ticket keys.
      await waitFor('a resumption served by the replacement', async () => {
        const again = await runToEnd(openssl, ['s_client', '-connect', `127.0.0.1:${tlsPort}`, '-servername', 'chat.tls.test', '-CAfile', ca.caFile, '-sess_in', session, '-ign_eof'], request.replace('GET / ', 'GET /resumed-after-kill '));
        assert.match(again.stdout, /^Reused, TLSv1\.3/m, again.stdout.split('\n').filter((line) => /New|Reused/.test(line)).join(' '));
        return servedBy(replacement, '/resumed-after-kill');
      }, 20_000, 0);
      assert.equal((await dozen.api('/proxy/health')).status, 200);
    } finally {
      for (const socket of pending) socket.destroy();
    }
  });

  it('lists the certificates, reloads a changed file without a restart, and keeps the old one when the new file is bad', async () => {
    const listed = (await (await dozen.api('/proxy/certificates')).json()) as { domain: string; issuer: string; notAfter: string; source: string; lastError: string | null }[];
    assert.deepEqual(listed.map((cert) => [cert.domain, cert.issuer, cert.source, cert.lastError]), [
      ['*.tls.test', 'dozen test CA', 'files', null],
      ['shop.tls.test', 'dozen test CA', 'files', null],
      ['tls.test', 'dozen test CA', 'files', null],
    ]);
    const graphql = await dozen.api('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ proxyCertificates { domain issuer notAfter source lastError } }' }) });
    const listedByGraphql = ((await graphql.json()) as { data: { proxyCertificates: { domain: string; notAfter: string }[] } }).data.proxyCertificates;
    assert.deepEqual(listedByGraphql.map((cert) => [cert.domain, cert.notAfter]), listed.map((cert) => [cert.domain, cert.notAfter]));
    const before = await servedCertificate('shop.tls.test');

    // A renewed certificate, written over the files.
    const renewed = ca.issue(['shop.tls.test'], { days: 5 });
    copyFileSync(renewed.keyFile, join(dir, 'shop.key'));
    copyFileSync(renewed.certFile, join(dir, 'shop.pem'));
    const after = await waitFor('the renewed certificate to be served', async () => {
      const now = await servedCertificate('shop.tls.test');
      return now !== before && /^subject=CN=shop/.test(now) ? now : undefined;
    }, 10_000, 200);
    assert.notEqual(after, before);

    // Expiring in 5 days: health warns (still 200), the metric says so.
    const health = await dozen.api('/proxy/health');
    assert.equal(health.status, 200);
    const body = (await health.json()) as { status: string; reason: string };
    assert.equal(body.status, 'warning');
    assert.match(body.reason, /shop\.tls\.test/);
    const metrics = await (await fetch(`${dozen.url}/metrics`)).text();
    const seconds = Number(/dozen_proxy_certificate_expiry_seconds\{domain="shop\.tls\.test"\} (-?\d+)/.exec(metrics)?.[1]);
    assert.ok(seconds > 4 * 86_400 && seconds <= 5 * 86_400, `expiry seconds ${seconds}`);

    // A bad file: the error is shown, the certificate served before stays.
    writeFileSync(join(dir, 'shop.pem'), 'not a certificate\n');
    const failed = await waitFor('the error to show', async () => {
      const list = (await (await dozen.api('/proxy/certificates')).json()) as { domain: string; lastError: string | null }[];
      return list.find((cert) => cert.domain === 'shop.tls.test' && cert.lastError)?.lastError ?? undefined;
    }, 10_000, 200);
    assert.match(failed, /shop\.pem is not a PEM certificate/);
    assert.equal(await servedCertificate('shop.tls.test'), after);
  });

  it('redirects plain HTTP for a redirectHttp app, and refuses redirectHttp with tls off naming the field', async () => {
    const refused = await dozen.api('/proxy/apps/web/policy', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tls: 'off', redirectHttp: true }) });
    assert.equal(refused.status, 400);
    const error = (await refused.json()) as { field: string };
    assert.match(error.field, /redirectHttp/);
    const set = await dozen.api('/proxy/apps/web/policy', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirectHttp: true, hsts: { maxAge: 300 } }) });
    assert.equal(set.status, 200, await set.text());
    const moved = await waitFor('the redirect', async () => {
      const answer = await runToEnd(curl, ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', '-H', 'Host: chat.tls.test', `http://127.0.0.1:${plainPort}/x?y=1`]);
      return answer.stdout.startsWith('301') ? answer.stdout : undefined;
    }, 5_000, 50);
    assert.equal(moved, `301 https://chat.tls.test:${tlsPort}/x?y=1`);
    const secure = await curlTls('chat.tls.test', '/');
    assert.match(secure.out, /strict-transport-security: max-age=300/i);
  });

  it('a bad certificate file is a config error naming the file', () => {
    const good = ca.issue(['x.tls.test']);
    const other = ca.issue(['y.tls.test']);
    const notPem = join(dir, 'garbage.pem');
    writeFileSync(notPem, 'hello\n');
    const check = (certFile: string, keyFile: string) => {
      const result = spawnSync(process.execPath, [CLI, 'config', 'check'], {
        env: { PATH: process.env.PATH, DOZEN_DATA_DIR: dir, DOZEN_PROXY_TLS_CERTIFICATES: JSON.stringify([{ domains: ['x.tls.test'], certFile, keyFile }]) },
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(result.status, 2, result.stderr);
      return result.stderr.trim();
    };
    assert.equal(check(join(dir, 'missing.pem'), good.keyFile), `dozen: bad config: proxy.tls.certificates.0.certFile = "${join(dir, 'missing.pem')}": cannot read the file (ENOENT)`);
    assert.equal(check(notPem, good.keyFile), `dozen: bad config: proxy.tls.certificates.0.certFile = "${notPem}": is not a PEM certificate (no -----BEGIN CERTIFICATE----- line)`);
    assert.equal(check(good.certFile, other.keyFile), `dozen: bad config: proxy.tls.certificates.0.keyFile = "${other.keyFile}": does not match the certificate (the key is another one)`);
  });
});
