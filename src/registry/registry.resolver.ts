import { Args, Field, Float, Int, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { appName } from './dto/registry.dto.js';
import { BadInput } from '../common/errors.js';
import { RegistryService, type InstanceView, type ServiceView } from './registry.service.js';
import type { Load } from './routes.js';

@ObjectType('RegistryLoad', { description: 'Figures of one instance; null where they are older than 3 s' })
class LoadType {
  @Field(() => Float, { description: 'percent of one core' }) cpu!: number;
  @Field(() => Float, { description: 'resident memory, bytes' }) memory!: number;
  @Field(() => Int) processes!: number;
  @Field(() => Int) inflight!: number;
  @Field(() => Float, { description: 'when sampled, ms since epoch' }) at!: number;
}

@ObjectType('RegistryMetaPair')
class MetaPairType {
  @Field() key!: string;
  @Field() value!: string;
}

@ObjectType('RegistryInstance', { description: 'An instance as the registry sees it (prefixed: deploy has its own Instance)' })
class InstanceType {
  @Field() id!: string;
  @Field() app!: string;
  @Field() address!: string;
  @Field(() => Int) port!: number;
  @Field() host!: string;
  @Field(() => [String]) domains!: string[];
  @Field(() => String, { nullable: true }) release!: string | null;
  @Field({ description: 'passing, warning or critical' }) status!: string;
  @Field(() => LoadType, { nullable: true }) load!: Load | null;
  @Field(() => [MetaPairType]) meta!: MetaPairType[];
  @Field(() => Float) ttlSeconds!: number;
  @Field(() => Float) deregisterAfterSeconds!: number;
}

@ObjectType('RegistryService', { description: 'An app with all its instances, whatever their health' })
export class ServiceType {
  @Field() app!: string;
  @Field(() => [String]) domains!: string[];
  @Field(() => [InstanceType]) instances!: InstanceType[];
}

@ObjectType('RouteBackend')
class BackendType {
  @Field() instance!: string;
  @Field() app!: string;
  @Field() address!: string;
  @Field(() => Int) port!: number;
  @Field() host!: string;
  @Field(() => LoadType, { nullable: true }) load!: Load | null;
}

@ObjectType('AppRoute')
class AppRouteType {
  @Field() app!: string;
  @Field(() => [String]) domains!: string[];
  @Field(() => [BackendType], { description: 'passing instances only' }) backends!: BackendType[];
}

@ObjectType('Routes', { description: "The proxy's route table: domain -> healthy backends" })
export class RoutesType {
  @Field(() => Int) version!: number;
  @Field(() => [AppRouteType]) apps!: AppRouteType[];
}

function toInstance(instance: InstanceView): InstanceType {
  return {
    ...instance,
    release: instance.release ?? null,
    meta: Object.entries(instance.meta).map(([key, value]) => ({ key, value })),
    ttlSeconds: instance.ttlMs / 1000,
    deregisterAfterSeconds: instance.deregisterAfterMs / 1000,
  };
}

export function toService(service: ServiceView): ServiceType {
  return { ...service, instances: service.instances.map(toInstance) };
}

@Resolver()
export class RegistryResolver {
  constructor(private readonly registry: RegistryService) {}

  @Query(() => [ServiceType], { description: 'Every app in the registry with its instances, health and load' })
  services(): ServiceType[] {
    return this.registry.services().map(toService);
  }

  @Query(() => ServiceType, { nullable: true, description: 'One app; null when it has no instance' })
  service(@Args('app') app: string): ServiceType | null {
    if (!appName.safeParse(app).success) throw new BadInput('app', 'expected a lower-case app name of 1-63 characters (a-z, 0-9, inner -)');
    const found = this.registry.services().find((service) => service.app === app);
    return found ? toService(found) : null;
  }

  @Query(() => RoutesType)
  routes(): RoutesType {
    return this.registry.routes();
  }
}
