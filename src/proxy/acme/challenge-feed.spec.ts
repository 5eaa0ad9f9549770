import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EmbeddedCatalog } from '../../registry/embedded.catalog.js';
import { CertificateBook } from '../tls/certificate-book.js';
import { ACME_KV } from './acme-kv.js';
import { ChallengeFeed } from './challenge-feed.js';

const noStore = { load: async () => ({ instances: [], kv: [] }), saveInstance: async () => {}, saveHealth: async () => {}, deleteInstance: async () => {}, putKv: async () => {}, deleteKv: async () => {} };
const challenges = (book: CertificateBook) => book.replay().filter((change) => change.kind === 'challenge');

describe('the challenge feed: catalog key/values into the certificate book', () => {
  it('a challenge put in the catalog is served; deleted, it is withdrawn; whenServed resolves once it is in the book', async () => {
    const catalog = await EmbeddedCatalog.open(noStore);
    const book = new CertificateBook();
    const feed = new ChallengeFeed(catalog, book);
    feed.start();
    const served = feed.whenServed('token-1', 5_000);
    await catalog.kvPut(`${ACME_KV.challenges}token-1`, 'token-1.thumbprint');
    await served;
    assert.deepEqual(challenges(book), [{ kind: 'challenge', token: 'token-1', keyAuthorization: 'token-1.thumbprint' }]);
    await catalog.kvPut('dozen/acme/other', 'not a challenge');
    await catalog.kvDelete(`${ACME_KV.challenges}token-1`);
    assert.deepEqual(challenges(book), []);
    await assert.rejects(feed.whenServed('never', 50), /did not come back from the catalog/);
    feed.stop();
    await catalog.close();
  });

  it('challenges already in the catalog when the feed starts are served (a host that starts mid-order)', async () => {
    const catalog = await EmbeddedCatalog.open(noStore);
    await catalog.kvPut(`${ACME_KV.challenges}early`, 'early.thumbprint');
    const book = new CertificateBook();
    const feed = new ChallengeFeed(catalog, book);
    feed.start();
    await feed.whenServed('early', 5_000);
    assert.equal(challenges(book).length, 1);
    feed.stop();
    assert.deepEqual(challenges(book), [], 'stopping withdraws what it served');
    await catalog.close();
  });
});
