import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DozenConfig } from '../config/config.schema.js';
import type { AppEntity, ReleaseEntity } from './deploy.entity.js';
import { ReleasesService } from './releases.service.js';

/** A ready release; `pruned` when its image left (deploy.keepReleases). */
const ready = (id: string, createdAt: number, pruned = false) => ({ id, app: 'a1', status: 'ready', createdAt, imageRemovedAt: pruned ? createdAt + 1 : null }) as ReleaseEntity;

/** The service over an app whose current release is `current` and whose ready releases are `releases`, newest first. */
function releasesOf(current: string | null, releases: ReleaseEntity[]): { service: ReleasesService; promoted: string[] } {
  const promoted: string[] = [];
  const apps = { row: async () => ({ name: 'a1', release: current }) as AppEntity, setRelease: async (_app: string, release: string) => void promoted.push(release) };
  const repository = {
    find: async () => releases,
    existsBy: async (where: { id: string; app: string; status: string }) => releases.some((release) => release.id === where.id && release.app === where.app && release.status === where.status),
  };
  const service = new ReleasesService(
    repository as never, apps as never, { moveTo: async () => undefined } as never, { whenReady: () => undefined } as never,
    { record: async () => undefined } as never, { changed: () => undefined } as never, {} as DozenConfig,
  );
  return { service, promoted };
}

const refusal = async (service: ReleasesService) => {
  const error = await service.rollback('a1', undefined, { name: 'admin-token' } as never).then(() => assert.fail('the rollback was made'), (error: Error & { status?: number }) => error);
  return error.message;
};

describe('a rollback', () => {
  it('moves to the newest ready release before the current one whose image is kept, past pruned ones', async () => {
    const { service, promoted } = releasesOf('r3', [ready('r3', 3), ready('r2', 2, true), ready('r1', 1)]);
    assert.equal((await service.rollback('a1', undefined, { name: 'admin-token' } as never)).id, 'r1');
    assert.deepEqual(promoted, ['r1']);
  });

  it('of an app without a ready release says it has none yet', async () => {
    assert.equal(await refusal(releasesOf(null, []).service), 'a1 has no ready release yet: there is nothing to roll back to');
  });

  it('from the first ready release says there is none before it', async () => {
    assert.equal(await refusal(releasesOf('r1', [ready('r1', 1)]).service), 'a1 has no ready release before r1');
  });

  it('when the ready releases before the current one were pruned names them and why', async () => {
    const { service } = releasesOf('r387351c8', [ready('r387351c8', 3), ready('r2238a774', 2, true), ready('r4a47509c', 1, true)]);
    assert.equal(await refusal(service), 'a1 has no release to roll back to before r387351c8: the ready releases before it (r2238a774, r4a47509c) had their images pruned (deploy.keepReleases)');
  });
});
