import { Injectable } from '@nestjs/common';
import Docker from 'dockerode';
import type { DozenConfig } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';
import { HealthService, type HealthIndicator, type HealthResult } from '../common/health.js';

/** Deploy is up when this host's Docker Engine answers; without Docker only this module is down. */
@Injectable()
export class DeployHealth implements HealthIndicator {
  private readonly docker: Docker;

  constructor(@InjectConfig() private readonly config: DozenConfig, health: HealthService) {
    this.docker = new Docker({ socketPath: config.deploy.docker.socketPath });
    health.register('deploy', this);
  }

  async check(): Promise<HealthResult> {
    try {
      const version = (await this.docker.version()) as { Version: string; ApiVersion: string };
      return { status: 'up', details: { docker: version.Version, api: version.ApiVersion } };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      return { status: 'down', reason: `Docker Engine not reachable at ${this.config.deploy.docker.socketPath} (${code}): install docker.io and start dockerd, or set deploy.docker.socketPath` };
    }
  }
}
