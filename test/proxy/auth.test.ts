import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { newApiKey } from '../../src/proxy/auth/api-key.js';
import { secretDigest } from '../../src/common/secrets.js';
import { call, ENGINES, startBackend, startProxy, type TestBackend, type TestProxy } from './helpers.js';

const SECRET = 'a-long-enough-hs256-secret-for-tests';

for (const engine of ENGINES) {
  describe(`proxy API auth (${engine} engine)`, { timeout: 60_000 }, () => {
    let proxy: TestProxy;
    let backend: TestBackend;
    let rsa: { publicKey: CryptoKey; privateKey: CryptoKey };
    let ec: { publicKey: CryptoKey; privateKey: CryptoKey };
    let jwks: Server;
    let jwksUrl: string;
    const live = newApiKey();
    const revoked = newApiKey();

    before(async () => {
      proxy = await startProxy({ engine });
      backend = await startBackend('api-1');
      rsa = await generateKeyPair('RS256');
      ec = await generateKeyPair('ES256');
      const jwk = { ...(await exportJWK(ec.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
      jwks = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
      jwks.listen(0, '127.0.0.1');
      await new Promise((resolve) => jwks.once('listening', resolve));
      jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
      const apps = ['hs', 'rs', 'es', 'keys'];
      proxy.source.set(apps.map((app) => ({ app, domains: [`${app}.test`], backends: [backend.as(app)] })));
      proxy.policies({
        hs: { auth: 'jwt', jwt: { algorithms: ['HS256'], secret: SECRET, issuer: 'https://id.example.net', audience: 'orders', scopes: { '/admin': ['orders:admin'], '/': ['orders:read'] } } },
        rs: { auth: 'jwt', jwt: { algorithms: ['RS256'], publicKey: await exportSPKI(rsa.publicKey), scopes: {} } },
        es: { auth: 'jwt', jwt: { algorithms: ['ES256'], jwksUrl, audience: 'orders', scopes: {} } },
        keys: { auth: 'api-key', keys: [{ id: 'live', digest: live.digest }] },
      });
      void revoked;
    });
    after(async () => {
      await proxy.close();
      await backend.close();
      jwks.close();
    });

    const hsToken = (claims: Record<string, unknown> = {}, options: { exp?: string | number; nbf?: string | number; aud?: string; iss?: string; secret?: string } = {}) => {
      const jwt = new SignJWT({ scope: 'orders:read', ...claims })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('user-7')
        .setIssuer(options.iss ?? 'https://id.example.net')
        .setAudience(options.aud ?? 'orders')
        .setExpirationTime(options.exp ?? '5m');
      if (options.nbf !== undefined) jwt.setNotBefore(options.nbf);
      return jwt.sign(new TextEncoder().encode(options.secret ?? SECRET));
    };
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

    async function refused(host: string, headers: Record<string, string>, status: number, message: RegExp, challenge: RegExp, path = '/orders') {
      const before = backend.seen.length;
      const answer = await call(proxy.port, host, path, { headers });
      assert.equal(answer.status, status, answer.text);
      assert.equal(answer.json().error, status === 401 ? 'unauthorized' : 'forbidden');
      assert.match(answer.json().message, message);
      assert.match(String(answer.headers['www-authenticate']), challenge);
      assert.equal(backend.seen.length, before, 'a refused request reached the backend');
    }

    it('refuses a request without a token with 401 and a Bearer challenge', async () => {
      await refused('hs.test', {}, 401, /bearer token is required/, /^Bearer realm="hs"$/);
    });

    it('refuses a bad signature, an expired token, a token not yet valid, the wrong audience and the wrong issuer', async () => {
      await refused('hs.test', bearer(await hsToken({}, { secret: 'another-secret-of-enough-length' })), 401, /bad signature/, /error="invalid_token"/);
      await refused('hs.test', bearer(await hsToken({}, { exp: Math.floor(Date.now() / 1000) - 60 })), 401, /expired/, /invalid_token/);
      await refused('hs.test', bearer(await hsToken({}, { nbf: Math.floor(Date.now() / 1000) + 600 })), 401, /not yet valid/, /invalid_token/);
      await refused('hs.test', bearer(await hsToken({}, { aud: 'billing' })), 401, /claim aud/, /invalid_token/);
      await refused('hs.test', bearer(await hsToken({}, { iss: 'https://evil.example' })), 401, /claim iss/, /invalid_token/);
      await refused('hs.test', bearer('not.a.jwt'), 401, /not valid/, /invalid_token/);
    });

    it('refuses a token without the scope its path prefix needs with 403', async () => {
      await refused('hs.test', bearer(await hsToken()), 403, /lacks the scope orders:admin needed under \/admin/, /error="insufficient_scope", .*scope="orders:admin"/, '/admin/users');
    });

    it('lets a good token through with its subject and scopes, and strips client-sent identity headers', async () => {
      const token = await hsToken({ scope: 'orders:read orders:admin' });
      for (const path of ['/orders', '/admin/users']) {
        const answer = await call(proxy.port, 'hs.test', path, { headers: { ...bearer(token), 'x-dozen-subject': 'root', 'x-dozen-scopes': 'all' } });
        assert.equal(answer.status, 200, answer.text);
        assert.equal(answer.json().headers['x-dozen-subject'], 'user-7');
        assert.equal(answer.json().headers['x-dozen-scopes'], 'orders:read orders:admin');
      }
      // The second use of a token comes from the verified-token cache and is checked the same way.
      await refused('hs.test', bearer(await hsToken()), 403, /orders:admin/, /insufficient_scope/, '/admin');
    });

    it('checks RS256 against a PEM key and ES256 against a JWKS URL', async () => {
      const rs = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('svc-a').setExpirationTime('5m').sign(rsa.privateKey);
      const ok = await call(proxy.port, 'rs.test', '/', { headers: bearer(rs) });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json().headers['x-dozen-subject'], 'svc-a');
      const forged = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('svc-a').setExpirationTime('5m').sign((await generateKeyPair('RS256')).privateKey);
      await refused('rs.test', bearer(forged), 401, /bad signature/, /invalid_token/);
      await refused('rs.test', bearer(await hsToken()), 401, /algorithm not allowed/, /invalid_token/);

      const es = await new SignJWT({ scp: ['a', 'b'] }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setSubject('svc-b').setAudience('orders').setExpirationTime('5m').sign(ec.privateKey);
      const viaJwks = await call(proxy.port, 'es.test', '/', { headers: bearer(es) });
      assert.equal(viaJwks.status, 200, viaJwks.text);
      assert.equal(viaJwks.json().headers['x-dozen-subject'], 'svc-b');
      assert.equal(viaJwks.json().headers['x-dozen-scopes'], 'a b');
    });

    it('takes an API key as a bearer token or X-Api-Key, and refuses an unknown or revoked one', async () => {
      for (const headers of [bearer(live.key), { 'x-api-key': live.key }]) {
        const answer = await call(proxy.port, 'keys.test', '/', { headers });
        assert.equal(answer.status, 200, answer.text);
        assert.equal(answer.json().headers['x-dozen-subject'], 'api-key:live');
      }
      await refused('keys.test', {}, 401, /API key is required/, /^Bearer realm="keys"$/);
      await refused('keys.test', { 'x-api-key': revoked.key }, 401, /unknown or revoked/, /invalid_token/);
      proxy.policies({ keys: { auth: 'api-key', keys: [] } });
      await refused('keys.test', { 'x-api-key': live.key }, 401, /unknown or revoked/, /invalid_token/);
      assert.equal(secretDigest(live.key), live.digest);
    });
  });
}
