import { hostname } from 'node:os';
import { Field, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { MODULE_NAMES, type DozenConfig } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';
import { HealthService } from './health.js';
import { VERSION } from './version.js';

@ObjectType()
class ModuleHealthType {
  @Field() name!: string;
  @Field({ description: 'up, warning, down or disabled' }) status!: string;
  @Field({ nullable: true }) reason?: string;
}

@ObjectType({ description: 'The dozen process on this host' })
class NodeType {
  @Field({ description: 'host name in the cluster (config host.name)' }) host!: string;
  @Field({ description: 'the operating system host name' }) systemHostname!: string;
  @Field() version!: string;
  @Field(() => [String]) modules!: string[];
  @Field() status!: string;
  @Field(() => [ModuleHealthType]) health!: ModuleHealthType[];
}

@Resolver(() => NodeType)
export class NodeResolver {
  constructor(
    @InjectConfig() private readonly config: DozenConfig,
    private readonly healthService: HealthService,
  ) {}

  @Query(() => NodeType)
  async node(): Promise<NodeType> {
    const report = await this.healthService.report();
    return {
      host: this.config.host.name,
      systemHostname: hostname(),
      version: VERSION,
      modules: this.config.modules,
      status: report.status,
      health: MODULE_NAMES.map((name) => {
        const health = report.modules[name];
        return { name, status: health.status, reason: 'reason' in health ? health.reason : undefined };
      }),
    };
  }
}
