import { Args, Field, Int, ObjectType, Resolver, Subscription } from '@nestjs/graphql';
import type { Logger } from 'pino';
import { InjectLogger } from '../common/core.module.js';
import { BadInput } from '../common/errors.js';
import { batchIterator, latestIterator, queueIterator, throttled, type Batch } from '../common/push-iterators.js';
import { RegistryService } from '../registry/registry.service.js';
import { AppsService } from './apps.service.js';
import { InstanceType, ReleaseType, checked } from './deploy.resolver.js';
import { appName, instanceId, releaseId } from './dto/deploy.dto.js';
import { InstancesService, type InstanceView } from './instances.service.js';
import { LiveLogs, type LiveLogLine } from './logs/live-logs.js';
import { ReleaseChanges } from './release-changes.js';
import { ReleasesService, type ReleaseView } from './releases.service.js';

/** Where instance specs (written by the API) and statuses (written by the agents) live in the catalog's key/value store. */
const WATCHED_PREFIXES = ['dozen/hosts/', 'dozen/status/'];
/** Live lists are pushed at most this often (a build or a scale changes them in bursts). */
const PUSH_EVERY_MS = 250;
/** Container output reaches a watcher in one batch per this long at most; a slow watcher keeps this many lines. */
const LOG_BATCH_MS = 250;
const LOG_BATCH_MAX = 2000;
const MAX_TAIL = 10_000;

@ObjectType('BuildLogChunk')
class BuildLogChunkType {
  @Field({ description: 'text of the log: first all of it so far, then each new line' }) text!: string;
  @Field({ description: 'true on the last chunk: the build ended' }) done!: boolean;
}

@ObjectType('DeployReleaseList')
class ReleaseListType {
  @Field(() => String, { nullable: true, description: "the app's current release" }) current!: string | null;
  @Field(() => [ReleaseType], { description: 'newest first' }) releases!: ReleaseView[];
}

@ObjectType('InstanceLogLine')
class InstanceLogLineType {
  @Field({ description: 'stdout or stderr' }) stream!: string;
  @Field({ description: "Docker's timestamp (UTC, nanoseconds)" }) at!: string;
  @Field({ description: 'the line without its newline' }) text!: string;
}

@ObjectType('InstanceLogChunk')
class InstanceLogChunkType {
  @Field(() => [InstanceLogLineType]) lines!: LiveLogLine[];
  @Field(() => Int, { description: 'lines skipped before these because the client read too slowly' }) dropped!: number;
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
    private readonly apps: AppsService,
    private readonly releaseChanges: ReleaseChanges,
    private readonly liveLogs: LiveLogs,
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

  @Subscription(() => ReleaseListType, { description: "An app's releases and its current one now, then after every change this host sees (a deploy, a build's state, a rollback, instances moved by any host), at most 4 a second", resolve: (value: ReleaseListType) => value })
  async releasesChanged(@Args('app') app: string): Promise<AsyncIterableIterator<ReleaseListType>> {
    const name = checked(appName, app, 'app');
    await this.apps.row(name); // an unknown app fails the subscription at once
    return latestIterator<ReleaseListType>((push) => {
      let open = true;
      let round = 0;
      const refresh = throttled(() => {
        const mine = ++round;
        Promise.all([this.apps.row(name), this.releasesService.list(name)]).then(
          ([row, releases]) => open && mine === round && push({ current: row.release, releases }),
          (error: unknown) => this.log.warn({ err: error, app: name }, 'release listing for a subscription failed'),
        );
      }, PUSH_EVERY_MS);
      refresh.trigger();
      const unwatch = this.releaseChanges.watch((changed) => changed === name && refresh.trigger());
      // Instance specs move when any host promotes a release (a build there, a rollback there).
      const unwatchSpecs = this.registry.watchKv('dozen/hosts/', () => refresh.trigger());
      return () => {
        open = false;
        refresh.cancel();
        unwatch();
        unwatchSpecs();
      };
    });
  }

  @Subscription(() => InstanceLogChunkType, {
    description: "An instance's container output: the last `tail` lines, then each new one (batched, at most 4 pushes a second); ends when the container stops. On a host other than the instance's own, its lines come through that host's dozen.",
    resolve: (batch: Batch<LiveLogLine>) => ({ lines: batch.values, dropped: batch.dropped }),
  })
  async instanceLogs(@Args('id') id: string, @Args('tail', { type: () => Int, defaultValue: 200 }) tail: number): Promise<AsyncIterableIterator<Batch<LiveLogLine>>> {
    const instance = checked(instanceId, id, 'id');
    if (!Number.isInteger(tail) || tail < 0 || tail > MAX_TAIL) throw new BadInput('tail', `must be an integer from 0 to ${MAX_TAIL}`);
    let pushLine: (line: LiveLogLine) => void = () => undefined;
    let endLines: () => void = () => undefined;
    let stopFollowing: (() => void) | null = null;
    const batches = batchIterator<LiveLogLine>((push, end) => {
      pushLine = push;
      endLines = end;
      // The subscriber left (or the output ended): close the Engine stream.
      return () => stopFollowing?.();
    }, { max: LOG_BATCH_MAX, everyMs: LOG_BATCH_MS });
    try {
      stopFollowing = await this.liveLogs.follow(instance, tail, (line) => pushLine(line), () => endLines());
    } catch (error) {
      await batches.return!();
      throw error;
    }
    return batches;
  }
}
