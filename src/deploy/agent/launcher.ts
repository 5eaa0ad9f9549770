import type { DozenConfig } from '../../config/config.schema.js';
import type { TokensService } from '../../tokens/tokens.service.js';
import { GIT_SECRET } from '../build/git-credentials.js';
import type { AppEntity, ReleaseEntity } from '../deploy.entity.js';
import type { InstanceSpec } from '../desired-state.js';
import type { SecretsBox } from '../../common/secrets-box.js';
import { containerName, LABEL, type DockerClient } from './docker.client.js';
import { fixedPortProblem, isFree, pickPort } from './ports.js';

/** The git credentials are for the build only: a container never gets them. */
const BUILD_ONLY_SECRETS = new Set<string>(Object.values(GIT_SECRET));

export interface Launched {
  containerId: string;
  port: number;
  name: string;
}

/** The versioned container name; a restart of the same release renames the old one out of the way. */
export function instanceContainerName(spec: InstanceSpec): string {
  return containerName(spec.app, spec.id, spec.release);
}

/** The registry id of one container of an instance: a new release or generation is a new registration beside the old. */
export function registrationId(instance: string, release: string, generation: number | string): string {
  return `${instance}-${release}-${generation}`;
}

/**
 * Creates and starts the container of an instance spec: a port from
 * `deploy.portRange` (or the app's fixed port, when this host allows it and
 * nothing listens there), a storage token confined to `apps/<app>/`, the
 * app's env and secrets, then dozen's own variables (which the app's cannot
 * override).
 */
export class Launcher {
  /** Ports handed out whose container may not listen yet. */
  private readonly reserved = new Set<number>();

  constructor(
    private readonly config: DozenConfig,
    private readonly docker: DockerClient,
    private readonly tokens: TokensService,
    private readonly secrets: SecretsBox,
  ) {}

  async launch(spec: InstanceSpec, app: AppEntity, release: ReleaseEntity): Promise<Launched> {
    const taken = new Set([...this.reserved, ...(await this.docker.managed()).map((container) => Number(container.labels[LABEL.port]))]);
    const port = app.port === null ? await pickPort(this.config.deploy.portRange, taken) : await this.fixedPort(app.port, taken);
    this.reserved.add(port);
    const token = await this.tokens.create({ name: `instance ${spec.id} of ${app.name}`, scopes: ['storage:write'], prefix: `apps/${app.name}/`, expiresAt: null });
    try {
      const secrets = Object.fromEntries(Object.entries(app.secrets).filter(([name]) => !BUILD_ONLY_SECRETS.has(name)).map(([name, sealed]) => [name, this.secrets.open(sealed)]));
      const domain = app.domains[0] ?? '';
      const env = {
        ...app.env,
        ...secrets,
        PORT: String(port),
        DOZEN_HOST_IP: this.config.host.address,
        DOZEN_APP: app.name,
        DOZEN_DOMAIN: domain,
        DOZEN_INSTANCE: spec.id,
        DOZEN_URL: `http://${this.config.host.address}:${this.config.admin.listen.port}`,
        DOZEN_TOKEN: token.token,
      };
      const name = instanceContainerName(spec);
      const containerId = await this.docker.run({
        name,
        image: release.imageId!,
        env,
        labels: {
          [LABEL.app]: app.name, [LABEL.instance]: spec.id, [LABEL.release]: spec.release, [LABEL.generation]: String(spec.generation),
          [LABEL.port]: String(port), [LABEL.token]: token.id, [LABEL.host]: this.config.host.name,
        },
        memoryMb: app.memoryMb ?? this.config.deploy.containers.memoryMb,
        cpuMillis: app.cpuMillis,
        capabilities: this.config.deploy.containers.capabilities,
        pidsLimit: this.config.deploy.containers.pidsLimit,
      });
      return { containerId, port, name };
    } catch (error) {
      await this.tokens.revoke(token.id);
      throw error;
    } finally {
      // Once created, the container's port label keeps it taken.
      this.reserved.delete(port);
    }
  }

  /**
   * The app's fixed port, when this host allows it and it is free: the health probe and the proxy reach
   * whatever answers there, so a port something else holds would put that in the registry under the app.
   */
  private async fixedPort(port: number, taken: Set<number>): Promise<number> {
    const problem = fixedPortProblem(port, this.config);
    if (problem) throw new Error(`the app's fixed port ${problem} on this host; refusing to run it there`);
    if (taken.has(port) || !(await isFree(port))) throw new Error(`the app's fixed port ${port} is in use on this host (another container or program listens there); nothing was started`);
    return port;
  }
}
