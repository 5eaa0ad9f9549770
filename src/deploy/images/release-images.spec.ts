import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, type ReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import type { DozenConfig } from '../../config/config.schema.js';
import type { DockerClient } from '../agent/docker.client.js';
import type { ReleaseEntity } from '../deploy.entity.js';
import { ReleaseImages } from './release-images.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('release image archives fetched from the store', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'dozen-images-spec-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const archive = Buffer.from('an image archive, several GB in life');
  const release = { id: 'r1a2b3c4d', app: 'shop', imageId: 'sha256:abc', imageRemovedAt: null, imageArchiveSha256: createHash('sha256').update(archive).digest('hex') } as ReleaseEntity;

  function images(onLoad: (file: string) => void): ReleaseImages {
    let loaded = false;
    const docker = {
      findImage: async () => (loaded ? release.imageId : null),
      loadImage: async (stream: ReadStream) => {
        onLoad(String(stream.path));
        for await (const _chunk of stream);
        loaded = true;
        return [`dozen/${release.app}:${release.id}`];
      },
    } as unknown as DockerClient;
    const store = { get: async () => ({ body: Readable.from([archive]) }) };
    const releases = { findOneBy: async () => release };
    const config = { dataDir, host: { name: 'h1' } } as unknown as DozenConfig;
    return new ReleaseImages(config, pino({ level: 'silent' }), docker, store as never, {} as never, releases as never, {} as never);
  }

  it("are staged in a private folder under dozen's data directory, not the (often small tmpfs) temp dir, and removed after the load", async () => {
    let staged = '';
    const loader = images((file) => {
      staged = file;
      assert.equal(mode(dirname(file)), 0o700);
      assert.equal(mode(dirname(dirname(file))), 0o700);
    });
    assert.equal(await loader.ensure(release), true);
    assert.equal(dirname(dirname(staged)), join(dataDir, 'image-staging'));
    assert.ok(!existsSync(dirname(staged)), 'the staged archive is gone');
  });

  it('what a stop of dozen left in the staging folder is removed at the next start', () => {
    mkdirSync(join(dataDir, 'image-staging', 'load-left'), { recursive: true });
    writeFileSync(join(dataDir, 'image-staging', 'load-left', 'archive.tar'), 'partial');
    images(() => {}).onModuleInit();
    assert.ok(!existsSync(join(dataDir, 'image-staging')));
  });
});
