import { Args, Field, ObjectType, Resolver, Subscription } from '@nestjs/graphql';
import type { Logger } from 'pino';
import { InjectLogger } from '../common/core.module.js';
import { latestIterator, queueIterator } from '../common/push-iterators.js';
import { RegistryService } from '../registry/registry.service.js';
import { InstanceType, checked } from './deploy.resolver.js';
import { appName, releaseId } from './dto/deploy.dto.js';
import { InstancesService, type InstanceView } from './instances.service.js';
import { ReleasesService } from './releases.service.js';

/** Where instance specs (written by the API) and statuses (written by the agents) live in the catalog's key/value store. */
const WATCHED_PREFIXES = ['dozen/hosts/', 'dozen/status/'];

@ObjectType('BuildLogChunk')
class BuildLogChunkType {
  @Field({ description: 'text of the log: first all of it so far, then each new line' }) text!: string;
  @Field({ description: 'true on the last chunk: the build ended' }) done!: boolean;
}

/**
 * Live instances for the console: the list now, then again after every change
 * of a spec (create, restart, stop, scale, deploy) or of a status an agent
 * reports (starting, running, crashed, ...). A slow client gets the newest list.
 */
@Resolver()
export class DeployLiveResolver {
  private readonly log: Logger;

  constructor(
    private readonly instancesService: InstancesService,
    private readonly registry: RegistryService,
    private readonly releasesService: ReleasesService,
    @InjectLogger() logger: Logger,
  ) {
    this.log = logger.child({ module: 'deploy' });
  }

  @Subscription(() => [InstanceType], { description: 'The instances (of one app, or all) now, then after every change', resolve: (value: InstanceView[]) => value })
  deployInstancesChanged(@Args('app', { type: () => String, nullable: true }) app?: string | null): AsyncIterableIterator<InstanceView[]> {
    const filter = { app: app == null ? undefined : checked(appName, app, 'app') };
    return latestIterator<InstanceView[]>((push) => {
      let open = true;
      let round = 0;
      const refresh = () => {
        const mine = ++round;
        this.instancesService.list(filter).then(
          // Only the newest listing counts: an older one finishing late must not overwrite it.
          (instances) => open && mine === round && push(instances),
          (error: unknown) => this.log.warn({ err: error }, 'instance listing for a subscription failed'),
        );
      };
      const stops = WATCHED_PREFIXES.map((prefix) => this.registry.watchKv(prefix, refresh));
      return () => {
        open = false;
        for (const stop of stops) stop();
      };
    });
  }

  @Subscription(() => BuildLogChunkType, { description: 'The build log of a release: all of it so far, then each line as the build writes it; ends with done', resolve: (value: BuildLogChunkType) => value })
  async buildLog(@Args('release') release: string): Promise<AsyncIterableIterator<BuildLogChunkType>> {
    const id = checked(releaseId, release, 'release');
    const sofar = await this.releasesService.buildLog(id);
    return queueIterator<BuildLogChunkType>((push, end) => {
      push({ text: sofar, done: false });
      const unfollow = this.releasesService.follow(id, (line) => {
        if (line !== null) return push({ text: line + '\n', done: false });
        push({ text: '', done: true });
        end();
      });
      if (!unfollow) {
        push({ text: '', done: true });
        end();
      }
      return () => unfollow?.();
    });
  }
}
