import { Injectable } from '@nestjs/common';
import type { DozenConfig } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';
import { HealthService, type HealthIndicator, type HealthResult } from '../common/health.js';
import { DockerClient } from './agent/docker.client.js';

/** Deploy is up when this host's Docker Engine answers; without Docker only this module is down. */
@Injectable()
export class DeployHealth implements HealthIndicator {
  constructor(
    @InjectConfig() private readonly config: DozenConfig,
    private readonly docker: DockerClient,
    health: HealthService,
  ) {
    health.register('deploy', this);
  }

  async check(): Promise<HealthResult> {
    try {
      const version = await this.docker.version();
      return { status: 'up', details: { docker: version.Version, api: version.ApiVersion } };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      return { status: 'down', reason: `Docker Engine not reachable at ${this.config.deploy.docker.socketPath} (${code}): install docker.io and start dockerd, or set deploy.docker.socketPath` };
    }
  }
}
