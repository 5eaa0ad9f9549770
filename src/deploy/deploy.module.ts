import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { moduleHealthController } from '../common/module-health.controller.js';
import { DOZEN_CONFIG } from '../config/config.module.js';
import type { DozenConfig } from '../config/config.schema.js';
import { RegistryModule } from '../registry/registry.module.js';
import { ObjectStoreModule } from '../storage/object-store.module.js';
import { TokensModule } from '../tokens/tokens.module.js';
import { DeployAgent } from './agent/agent.service.js';
import { DockerClient } from './agent/docker.client.js';
import { AppsService } from './apps.service.js';
import { AuditService } from './audit.service.js';
import { BuilderService } from './build/builder.service.js';
import { DeployController } from './deploy.controller.js';
import { AppEntity, HostEntity, InstanceEntity, ReleaseEntity } from './deploy.entity.js';
import { DeployHealth } from './deploy.health.js';
import { DeployLiveResolver } from './deploy-live.resolver.js';
import { DeployResolver } from './deploy.resolver.js';
import { ContainerLogShipping } from './logs/container-log-shipping.service.js';
import { LogCheckpointEntity } from './logs/log-checkpoint.entity.js';
import { HostsService } from './hosts.service.js';
import { ReleaseImages } from './images/release-images.js';
import { InstancesService } from './instances.service.js';
import { ReleasesService } from './releases.service.js';
import { ReleaseChanges } from './release-changes.js';
import { LiveLogs } from './logs/live-logs.js';
import { WebhookEntity } from './webhooks/webhook.entity.js';
import { WebhooksController } from './webhooks/webhooks.controller.js';
import { WebhooksResolver } from './webhooks/webhooks.resolver.js';
import { WebhooksService } from './webhooks/webhooks.service.js';
import { SecretsBox } from '../common/secrets-box.js';

/**
 * Apps, releases, instances and hosts (the API half), and this host's agent
 * that makes its Docker Engine run what the catalog says it should.
 */
@Module({
  imports: [TypeOrmModule.forFeature([HostEntity, AppEntity, ReleaseEntity, InstanceEntity, LogCheckpointEntity, WebhookEntity]), RegistryModule, TokensModule, ObjectStoreModule],
  controllers: [moduleHealthController('deploy'), DeployController, WebhooksController],
  providers: [
    { provide: DockerClient, inject: [DOZEN_CONFIG], useFactory: (config: DozenConfig) => new DockerClient(config.deploy.docker.socketPath) },
    { provide: SecretsBox, inject: [DOZEN_CONFIG], useFactory: (config: DozenConfig) => SecretsBox.fromConfig(config) },
    DeployHealth,
    AuditService,
    HostsService,
    AppsService,
    InstancesService,
    ReleasesService,
    ReleaseChanges,
    LiveLogs,
    ReleaseImages,
    BuilderService,
    ContainerLogShipping,
    DeployAgent,
    DeployResolver,
    WebhooksService,
    WebhooksResolver,
    DeployLiveResolver,
  ],
})
export class DeployModule {}
