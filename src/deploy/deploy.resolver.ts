import { Args, Context, Field, Float, InputType, Int, Mutation, ObjectType, OmitType, Query, Resolver } from '@nestjs/graphql';
import type { z } from 'zod';
import { badInputFromZod } from '../common/errors.js';
import { AppsService, type AppView } from './apps.service.js';
import { actorOfGraphQL as actorOf, type GraphQLContext } from './actor.js';
import {
  appName, createAppSchema, createInstanceSchema, deployBody, domainSchemaBody, envBody, envNameParam, hostName, instanceId, releaseId, rollbackBody, scaleBody, secretsBody, updateAppSchema,
} from './dto/deploy.dto.js';
import { HostsService } from './hosts.service.js';
import { InstancesService } from './instances.service.js';
import { ReleasesService } from './releases.service.js';

/** The same zod rules as REST, so a bad value names the same field. */
export function checked<T extends z.ZodType>(schema: T, value: unknown, field = ''): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw badInputFromZod(result.error, field);
  return result.data;
}

const toPairs = (map: Record<string, string>) => Object.entries(map).map(([name, value]) => ({ name, value }));
const fromPairs = (pairs: PairInput[] | undefined) => (pairs ? Object.fromEntries(pairs.map((pair) => [pair.name, pair.value])) : undefined);

@ObjectType('DeployEnvPair')
class PairType {
  @Field() name!: string;
  @Field() value!: string;
}

@InputType('DeployEnvPairInput')
class PairInput {
  @Field() name!: string;
  @Field() value!: string;
}

@ObjectType('DeployHost')
class HostType {
  @Field() name!: string;
  @Field() address!: string;
  @Field() version!: string;
  @Field(() => [String]) modules!: string[];
  @Field() lastSeenAt!: string;
  @Field({ description: 'up, or lost after 30 s of silence' }) state!: string;
}

@ObjectType('DeployApp')
class AppType {
  @Field() name!: string;
  @Field(() => String, { nullable: true }) repository!: string | null;
  @Field() defaultRef!: string;
  @Field({ description: 'nodejs, php-laravel or image' }) runtime!: string;
  @Field(() => String, { nullable: true }) image!: string | null;
  @Field(() => Int, { nullable: true, description: 'null: the app reads PORT' }) port!: number | null;
  @Field() healthPath!: string;
  @Field(() => [PairType]) env!: PairType[];
  @Field(() => [String], { description: 'names only: secret values are write-only' }) secrets!: string[];
  @Field(() => [String]) domains!: string[];
  @Field(() => String, { nullable: true }) release!: string | null;
  @Field(() => Int, { nullable: true }) memoryMb!: number | null;
  @Field(() => Float, { nullable: true }) cpus!: number | null;
  @Field({ description: "the proxy's balancer and auth policy of this app (REST path)" }) policy!: string;
}

@ObjectType('DeployRelease')
export class ReleaseType {
  @Field() id!: string;
  @Field() app!: string;
  @Field() ref!: string;
  @Field(() => String, { nullable: true }) commit!: string | null;
  @Field(() => String, { nullable: true }) imageId!: string | null;
  @Field({ description: 'queued, building, ready, failed or cancelled' }) status!: string;
  @Field(() => String, { nullable: true }) error!: string | null;
  @Field() createdAt!: string;
  @Field() createdBy!: string;
  @Field(() => String, { nullable: true, description: 'when its image was pruned (deploy.keepReleases); it can no longer be rolled back to' }) imageRemovedAt!: string | null;
}

@ObjectType('DeployInstance', { description: 'An instance of an app on a host (the registry has its own RegistryInstance)' })
export class InstanceType {
  @Field() id!: string;
  @Field() app!: string;
  @Field() host!: string;
  @Field() release!: string;
  @Field({ description: 'running, stopped or removed' }) desired!: string;
  @Field(() => Int) generation!: number;
  @Field({ description: 'pending, building, starting, running, unhealthy, crashed, stopped or lost' }) state!: string;
  @Field(() => String, { nullable: true }) runningRelease!: string | null;
  @Field(() => String, { nullable: true }) containerId!: string | null;
  @Field(() => Int, { nullable: true }) port!: number | null;
  @Field(() => Int) restarts!: number;
  @Field(() => String, { nullable: true }) lastError!: string | null;
}

@InputType('CreateAppInput')
class CreateAppInput {
  @Field() name!: string;
  @Field(() => String, { nullable: true }) repository?: string | null;
  @Field(() => String, { nullable: true }) defaultRef?: string;
  @Field(() => String, { nullable: true }) runtime?: string;
  @Field(() => String, { nullable: true }) image?: string | null;
  @Field(() => Int, { nullable: true }) port?: number | null;
  @Field(() => String, { nullable: true }) healthPath?: string;
  @Field(() => [PairInput], { nullable: true }) env?: PairInput[];
  @Field(() => [PairInput], { nullable: true }) secrets?: PairInput[];
  @Field(() => [String], { nullable: true }) domains?: string[];
  @Field(() => Int, { nullable: true }) memoryMb?: number | null;
  @Field(() => Float, { nullable: true }) cpus?: number | null;
}

/** What createApp takes but the name and what has mutations of its own (env, secrets, domains). */
@InputType('UpdateAppInput')
class UpdateAppInput extends OmitType(CreateAppInput, ['name', 'env', 'secrets', 'domains'] as const, InputType) {}

/** Drops the fields GraphQL left out, so zod's defaults apply as they do for REST. */
function defined<T extends object>(input: T): Partial<T> {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as Partial<T>;
}

function appType(view: AppView): AppType {
  return { ...view, env: toPairs(view.env) };
}

@Resolver()
export class DeployResolver {
  constructor(
    private readonly appsService: AppsService,
    private readonly releasesService: ReleasesService,
    private readonly instancesService: InstancesService,
    private readonly hostsService: HostsService,
  ) {}

  @Query(() => [HostType], { description: 'The hosts that run deploy' })
  hosts() {
    return this.hostsService.list();
  }

  @Query(() => [AppType])
  async apps() {
    return (await this.appsService.list()).map(appType);
  }

  @Query(() => AppType)
  async app(@Args('name') name: string) {
    return appType(await this.appsService.get(checked(appName, name, 'name')));
  }

  @Query(() => [ReleaseType], { description: 'Newest first' })
  releases(@Args('app') app: string) {
    return this.releasesService.list(checked(appName, app, 'app'));
  }

  @Query(() => [InstanceType])
  instances(@Args('app', { nullable: true }) app?: string, @Args('host', { nullable: true }) host?: string) {
    return this.instancesService.list({ app: app === undefined ? undefined : checked(appName, app, 'app'), host: host === undefined ? undefined : checked(hostName, host, 'host') });
  }

  @Mutation(() => AppType)
  async createApp(@Context() context: GraphQLContext, @Args('input') input: CreateAppInput) {
    const parsed = checked(createAppSchema, { ...defined(input), env: fromPairs(input.env), secrets: fromPairs(input.secrets) });
    return appType(await this.appsService.create(parsed, actorOf(context)));
  }

  @Mutation(() => AppType)
  async updateApp(@Context() context: GraphQLContext, @Args('name') name: string, @Args('input') input: UpdateAppInput) {
    return appType(await this.appsService.update(checked(appName, name, 'name'), checked(updateAppSchema, defined(input)), actorOf(context)));
  }

  @Mutation(() => Boolean, { description: 'Removes its instances, then the app and its proxy policy' })
  async deleteApp(@Context() context: GraphQLContext, @Args('name') name: string) {
    await this.appsService.row(checked(appName, name, 'name'));
    await this.instancesService.removeAll(name, actorOf(context));
    await this.appsService.delete(name, actorOf(context));
    return true;
  }

  @Mutation(() => AppType)
  async addDomain(@Context() context: GraphQLContext, @Args('app') app: string, @Args('domain') domain: string) {
    return appType(await this.appsService.addDomain(checked(appName, app, 'app'), checked(domainSchemaBody, { domain }).domain, actorOf(context)));
  }

  @Mutation(() => AppType)
  async removeDomain(@Context() context: GraphQLContext, @Args('app') app: string, @Args('domain') domain: string) {
    return appType(await this.appsService.removeDomain(checked(appName, app, 'app'), domain.toLowerCase(), actorOf(context)));
  }

  @Mutation(() => AppType, { description: 'Sets one variable; value null unsets it' })
  async setEnv(@Context() context: GraphQLContext, @Args('app') app: string, @Args('name') name: string, @Args('value', { type: () => String, nullable: true }) value: string | null) {
    const checkedApp = checked(appName, app, 'app');
    if (value === null) return appType(await this.appsService.unsetEnv(checkedApp, checked(envNameParam, name, 'name'), actorOf(context)));
    return appType(await this.appsService.setEnv(checkedApp, checked(envBody, { env: { [name]: value } }).env, actorOf(context)));
  }

  @Mutation(() => AppType, { description: 'Sets one secret (never shown again); value null unsets it' })
  async setSecret(@Context() context: GraphQLContext, @Args('app') app: string, @Args('name') name: string, @Args('value', { type: () => String, nullable: true }) value: string | null) {
    const checkedApp = checked(appName, app, 'app');
    if (value === null) return appType(await this.appsService.unsetSecret(checkedApp, checked(envNameParam, name, 'name'), actorOf(context)));
    return appType(await this.appsService.setSecrets(checkedApp, checked(secretsBody, { secrets: { [name]: value } }).secrets, actorOf(context)));
  }

  @Mutation(() => ReleaseType, { description: 'Queues the build of a ref; the instances move to it once it is ready' })
  deploy(@Context() context: GraphQLContext, @Args('app') app: string, @Args('ref', { type: () => String, nullable: true }) ref?: string) {
    return this.releasesService.deploy(checked(appName, app, 'app'), checked(deployBody, defined({ ref })).ref, actorOf(context));
  }

  @Mutation(() => ReleaseType, { description: 'Cancels a queued or running build; answers once the release says cancelled' })
  cancelRelease(@Context() context: GraphQLContext, @Args('id') id: string) {
    return this.releasesService.cancel(checked(releaseId, id, 'id'), actorOf(context));
  }

  @Mutation(() => ReleaseType)
  rollback(@Context() context: GraphQLContext, @Args('app') app: string, @Args('release', { type: () => String, nullable: true }) release?: string) {
    return this.releasesService.rollback(checked(appName, app, 'app'), checked(rollbackBody, defined({ release })).release, actorOf(context));
  }

  @Mutation(() => InstanceType)
  createInstance(@Context() context: GraphQLContext, @Args('app') app: string, @Args('host') host: string) {
    const input = checked(createInstanceSchema, { app, host });
    return this.instancesService.create(input.app, input.host, actorOf(context));
  }

  @Mutation(() => InstanceType)
  startInstance(@Context() context: GraphQLContext, @Args('id') id: string) {
    return this.instancesService.start(checked(instanceId, id, 'id'), actorOf(context));
  }

  @Mutation(() => InstanceType)
  stopInstance(@Context() context: GraphQLContext, @Args('id') id: string) {
    return this.instancesService.stop(checked(instanceId, id, 'id'), actorOf(context));
  }

  @Mutation(() => InstanceType)
  restartInstance(@Context() context: GraphQLContext, @Args('id') id: string) {
    return this.instancesService.restart(checked(instanceId, id, 'id'), actorOf(context));
  }

  @Mutation(() => Boolean)
  async removeInstance(@Context() context: GraphQLContext, @Args('id') id: string) {
    await this.instancesService.remove(checked(instanceId, id, 'id'), actorOf(context));
    return true;
  }

  @Mutation(() => [InstanceType])
  scale(@Context() context: GraphQLContext, @Args('app') app: string, @Args('host') host: string, @Args('count', { type: () => Int }) count: number) {
    const input = checked(scaleBody, { host, count });
    return this.instancesService.scale(checked(appName, app, 'app'), input.host, input.count, actorOf(context));
  }
}
