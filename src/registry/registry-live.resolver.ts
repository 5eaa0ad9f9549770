import { Resolver, Subscription } from '@nestjs/graphql';
import { latestIterator } from '../common/push-iterators.js';
import { RegistryService } from './registry.service.js';
import { RoutesType, ServiceType, toService } from './registry.resolver.js';

/**
 * Live registry for the console: the current state at once, then a new state
 * after every change of instances, health or load (the moments the route
 * table is rebuilt). A slow client gets the newest state, not a backlog.
 */
@Resolver()
export class RegistryLiveResolver {
  constructor(private readonly registry: RegistryService) {}

  @Subscription(() => RoutesType, { description: 'The route table now, then after every change', resolve: (value: RoutesType) => value })
  routesChanged(): AsyncIterableIterator<RoutesType> {
    return latestIterator((push) => this.registry.watchRoutes(push), this.registry.routes());
  }

  @Subscription(() => [ServiceType], { description: 'Every app with its instances now, then after every change of instances, health or load', resolve: (value: ServiceType[]) => value })
  servicesChanged(): AsyncIterableIterator<ServiceType[]> {
    const services = () => this.registry.services().map(toService);
    return latestIterator((push) => this.registry.watchRoutes(() => push(services())), services());
  }
}
