import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import Docker from 'dockerode';
import { StreamLines } from './stream-lines.js';

/** Labels every container dozen makes carries from its creation; nothing without MANAGED is ever touched. */
export const LABEL = {
  managed: 'dozen.managed',
  app: 'dozen.app',
  instance: 'dozen.instance',
  release: 'dozen.release',
  generation: 'dozen.generation',
  port: 'dozen.port',
  token: 'dozen.token',
  /** The dozen host whose agent owns it (several hosts' agents may share one Engine in tests). */
  host: 'dozen.host',
} as const;

export interface ManagedContainer {
  id: string;
  name: string;
  /** Docker's state: created, running, exited, dead, ... */
  state: string;
  labels: Record<string, string>;
}

export interface RunSpec {
  name: string;
  image: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  memoryMb: number;
  cpuMillis: number | null;
  /** The capabilities kept; every other one is dropped. */
  capabilities: string[];
  pidsLimit: number;
}

/** What a build's steps may use (deploy.containers). */
export interface BuildLimits {
  memoryMb: number;
  /** The Engine's network mode for the steps: `default` (the Engine's default network), `host` or `none`. */
  network: 'default' | 'host' | 'none';
}

export interface ContainerStats {
  cpu: number;
  memory: number;
  processes: number;
}

/** The name dozen gives an instance's container of a release; a restart of the same release renames the old one `<name>-g<generation>`. */
export function containerName(app: string, instance: string, release: string): string {
  return `dozen-${app}-${instance}-${release}`;
}

/**
 * Whether a container bears a name dozen gave it, for the labels it carries. Labels alone can be had
 * by anyone who builds an image: a build's step containers carry the Dockerfile's labels, and the one
 * the Engine makes for a `LABEL` step stands on the image before it, which does not carry them yet.
 * Such containers get the Engine's generated names (`adjective_surname`), which no Dockerfile can set.
 */
export function namedByDozen(name: string, labels: Record<string, string>): boolean {
  const given = containerName(labels[LABEL.app] ?? '', labels[LABEL.instance] ?? '', labels[LABEL.release] ?? '');
  return name === given || name === `${given}-g${labels[LABEL.generation] ?? ''}`;
}

/** Why an image with dozen's container label is no release (`DockerClient.managed` says what its containers would pass for). */
export const IMAGE_CLAIMS_MANAGED = `the image carries the label ${LABEL.managed}, which only containers dozen makes may carry: remove it (a LABEL of the Dockerfile, or of the image it starts FROM)`;

/**
 * Why a container could not start on an Engine without its init. The Engine names `docker-init` when it
 * finds none on its PATH, and when the file `--init-path` names is missing (mounted at /sbin/docker-init).
 */
export const NO_INIT = "this Docker Engine has no init for containers (docker-init), which dozen runs each container's app under so that it gets docker stop's SIGTERM: install tini (Debian's docker.io depends on it; Docker's own packages ship docker-init) or point dockerd's --init-path at a tini binary; nothing was started";

/** Refused: the container is not dozen's (no `dozen.managed=true` label). */
export class NotManaged extends Error {}

/**
 * The agent's only way to the Docker Engine (dockerode over the socket of
 * `deploy.docker.socketPath`). Every call that changes a container checks
 * first that it is dozen's: it carries `dozen.managed=true` and its image
 * does not (see `managed`).
 */
export class DockerClient {
  readonly docker: Docker;

  constructor(socketPath: string) {
    this.docker = new Docker({ socketPath });
  }

  async version(): Promise<{ Version: string; ApiVersion: string }> {
    return (await this.docker.version()) as { Version: string; ApiVersion: string };
  }

  /**
   * dozen's containers, running or not, optionally of one instance. A container gets its image's labels
   * beside its own, so `dozen.managed=true` counts only when its image does not carry it: an image with
   * `LABEL dozen.managed=true dozen.instance=…` would otherwise pass every container made from it (its
   * build's own step containers, for one) as dozen's, which the agent would retire, register or revoke
   * the token of. dozen refuses to build or run such an image. Nor does a container count whose name is
   * not the one dozen gives (`namedByDozen`): the step container of a Dockerfile's own `LABEL` has the
   * labels on an image without them.
   */
  async managed(instance?: string): Promise<ManagedContainer[]> {
    const label = [`${LABEL.managed}=true`, ...(instance ? [`${LABEL.instance}=${instance}`] : [])];
    const list = await this.docker.listContainers({ all: true, filters: { label } });
    const claimed = new Map<string, Promise<boolean>>();
    const containers: ManagedContainer[] = [];
    for (const entry of list) {
      const name = (entry.Names[0] ?? '').replace(/^\//, '');
      if (!namedByDozen(name, entry.Labels)) continue;
      if (!claimed.has(entry.ImageID)) claimed.set(entry.ImageID, this.imageClaimsManaged(entry.ImageID));
      if (await claimed.get(entry.ImageID)!) continue;
      containers.push({ id: entry.Id, name, state: entry.State, labels: entry.Labels });
    }
    return containers;
  }

  /** Whether the Engine has its default bridge network (a daemon started with `--bridge=none` has not: build steps there get only loopback). */
  async hasBridgeNetwork(): Promise<boolean> {
    const networks = (await this.docker.listNetworks({ filters: { name: ['bridge'] } })) as { Name: string }[];
    return networks.some((network) => network.Name === 'bridge');
  }

  /** Whether an image carries the label `dozen.managed` (any value): none of dozen's may. One that is gone counts as carrying it. */
  async imageClaimsManaged(image: string): Promise<boolean> {
    try {
      const info = (await this.docker.getImage(image).inspect()) as { Config?: { Labels?: Record<string, string> | null } };
      return LABEL.managed in (info.Config?.Labels ?? {});
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return true;
      throw error;
    }
  }

  /**
   * Builds `context` (a folder; `.git` left out) into `tag`, its steps within `limits` (the build API
   * takes no capability, privilege or process limits). `onLog` gets each line of the build output; a
   * stream that reports an error rejects with it.
   */
  async build(context: string, tag: string, labels: Record<string, string>, limits: BuildLimits, onLog: (line: string) => void, signal: AbortSignal): Promise<string> {
    const tar = spawn('tar', ['-C', context, '--exclude=./.git', '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tarError = '';
    tar.stderr.on('data', (chunk) => (tarError += chunk));
    const body = new PassThrough();
    tar.stdout.pipe(body);
    const stream = (await this.docker.buildImage(body as unknown as NodeJS.ReadableStream, {
      t: tag, labels, rm: true, forcerm: true, networkmode: limits.network, memory: limits.memoryMb * 1024 * 1024, abortSignal: signal,
    } as never)) as unknown as Readable;
    let imageId = '';
    const output = new StreamLines(onLog);
    await new Promise<void>((resolve, reject) => {
      signal.addEventListener('abort', () => stream.destroy(signal.reason as Error), { once: true });
      this.docker.modem.followProgress(
        stream,
        (error: Error | null) => {
          output.end();
          if (error) reject(error);
          else resolve();
        },
        (event: { stream?: string; error?: string; errorDetail?: { message?: string }; aux?: { ID?: string } }) => {
          if (event.stream) output.push(event.stream);
          if (event.aux?.ID) imageId = event.aux.ID;
          if (event.error) {
            output.end();
            onLog(event.errorDetail?.message ?? event.error);
            reject(new Error(event.errorDetail?.message ?? event.error));
          }
        },
      );
    });
    if (signal.aborted) throw signal.reason as Error;
    if (tarError) throw new Error(`tar: ${tarError.trim()}`);
    return imageId || ((await this.docker.getImage(tag).inspect()) as { Id: string }).Id;
  }

  /** The id of a local image (an `image` app's); throws saying so when the host does not have it. */
  async imageId(image: string): Promise<string> {
    try {
      return ((await this.docker.getImage(image).inspect()) as { Id: string }).Id;
    } catch (error) {
      throw new Error(`image ${image} is not on this host's Docker Engine (${(error as { statusCode?: number }).statusCode ?? (error as Error).message})`);
    }
  }

  /**
   * Creates and starts a managed container on the host network with a capped json-file log, confined:
   * only `capabilities` kept, no gaining privileges through setuid binaries, at most `pidsLimit` processes.
   * Its PID 1 is the Engine's init (docker-init, tini), which passes signals on to the app: the kernel
   * gives PID 1 no default signal actions, so an app there without a SIGTERM handler (most Node apps)
   * would ignore `docker stop` until the SIGKILL at the end of the grace. The init signals the app's whole
   * process group (tini's TINI_KILL_PROCESS_GROUP, its `-g`): an app started through a wrapper that does not
   * pass signals on (`sh -c 'node server.js'`) still gets its SIGTERM and ends cleanly.
   */
  async run(spec: RunSpec): Promise<string> {
    const container = await this.docker.createContainer({
      name: spec.name,
      Image: spec.image,
      Labels: { ...spec.labels, [LABEL.managed]: 'true' },
      Env: [...Object.entries(spec.env).map(([name, value]) => `${name}=${value}`), 'TINI_KILL_PROCESS_GROUP=1'],
      HostConfig: {
        NetworkMode: 'host',
        Init: true,
        // The agent restarts crashed containers itself (with backoff, and re-registering them); Docker must not race it.
        RestartPolicy: { Name: 'no' },
        LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
        CapDrop: ['ALL'],
        CapAdd: spec.capabilities,
        SecurityOpt: ['no-new-privileges'],
        PidsLimit: spec.pidsLimit,
        Memory: spec.memoryMb * 1024 * 1024,
        ...(spec.cpuMillis ? { NanoCpus: spec.cpuMillis * 1_000_000 } : {}),
      },
    });
    try {
      await container.start();
    } catch (error) {
      if (!/docker-init/.test((error as Error).message)) throw error;
      // Left created, it would hold the instance's container name until the next reconcile.
      await container.remove({ force: true }).catch(ignoreStatus(404));
      throw new Error(`${NO_INIT} (${(error as Error).message})`);
    }
    return container.id;
  }

  async inspect(id: string): Promise<Docker.ContainerInspectInfo> {
    return this.docker.getContainer(id).inspect();
  }

  async stop(id: string, graceSeconds: number): Promise<void> {
    await this.assertManaged(id);
    await this.docker.getContainer(id).stop({ t: graceSeconds }).catch(ignoreStatus(304, 404));
  }

  async remove(id: string): Promise<void> {
    await this.assertManaged(id);
    await this.docker.getContainer(id).remove({ force: true }).catch(ignoreStatus(404));
  }

  async rename(id: string, name: string): Promise<void> {
    await this.assertManaged(id);
    await this.docker.getContainer(id).rename({ name });
  }

  /** The last `tail` lines of the container's output, stdout and stderr demultiplexed and merged. */
  async logs(id: string, tail: number): Promise<string> {
    const buffer = (await this.docker.getContainer(id).logs({ stdout: true, stderr: true, tail, follow: false })) as unknown as Buffer;
    return demultiplex(buffer);
  }

  /**
   * The container's output as the Engine sends it: multiplexed frames, each message
   * with its timestamp (read them with LogFrames), followed while the container runs
   * (ends when it stops). From `since` (`<unix seconds>.<nanoseconds>`; the Engine keeps
   * messages at or after it), or the last `tail` messages, or all. Destroy the stream to stop reading.
   */
  async timestampedLogs(id: string, from: { since?: string; tail?: number } = {}): Promise<Readable> {
    return (await this.docker.getContainer(id).logs({ stdout: true, stderr: true, follow: true, timestamps: true, ...(from.since ? { since: from.since } : {}), ...(from.tail !== undefined ? { tail: from.tail } : {}) } as never)) as unknown as Readable;
  }

  /** One stats sample (Docker waits for two readings to fill precpu). */
  async stats(id: string): Promise<ContainerStats> {
    const stats = (await this.docker.getContainer(id).stats({ stream: false })) as unknown as Docker.ContainerStats;
    const cpuDelta = stats.cpu_stats.cpu_usage.total_usage - stats.precpu_stats.cpu_usage.total_usage;
    const systemDelta = (stats.cpu_stats.system_cpu_usage ?? 0) - (stats.precpu_stats.system_cpu_usage ?? 0);
    const cpus = stats.cpu_stats.online_cpus || stats.cpu_stats.cpu_usage.percpu_usage?.length || 1;
    // Percent of one core, as `dozen register --pid` reports it.
    const cpu = systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * cpus * 100 : 0;
    return { cpu: Math.round(cpu * 100) / 100, memory: stats.memory_stats.usage ?? 0, processes: (stats as unknown as { pids_stats?: { current?: number } }).pids_stats?.current ?? 0 };
  }

  /** Docker's event stream of managed containers since `since` (seconds); ends when the engine goes away. */
  async events(since: number, signal: AbortSignal): Promise<Readable> {
    return (await this.docker.getEvents({
      since,
      filters: { type: ['container'], label: [`${LABEL.managed}=true`], event: ['die', 'oom', 'start', 'health_status'] },
      abortSignal: signal,
    } as never)) as unknown as Readable;
  }

  /** Removes an image or one of its tags; an image still used by a container (409) or gone (404) is left as it is. */
  async removeImage(image: string): Promise<void> {
    await this.docker.getImage(image).remove().catch(ignoreStatus(404, 409));
  }

  /** The id of an image (by id or tag), or null when this Engine does not have it. */
  async findImage(image: string): Promise<string | null> {
    try {
      return ((await this.docker.getImage(image).inspect()) as { Id: string }).Id;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return null;
      throw error;
    }
  }

  async tagImage(image: string, repo: string, tag: string): Promise<void> {
    await this.docker.getImage(image).tag({ repo, tag });
  }

  /** Every tag on this Engine, with the id of its image. */
  async imageTags(): Promise<{ id: string; tag: string }[]> {
    const images = await this.docker.listImages();
    return images.flatMap((image) => (image.RepoTags ?? []).map((tag) => ({ id: image.Id, tag })));
  }

  /** `docker save` of one image (by tag, so the archive names it) as a stream, not buffered. */
  async saveImage(image: string): Promise<Readable> {
    return (await this.docker.getImage(image).get()) as unknown as Readable;
  }

  /** `docker load` of an archive stream; returns what the Engine says it loaded (tags or ids), rejects with its error when it refuses the archive. */
  async loadImage(archive: Readable): Promise<string[]> {
    const stream = (await this.docker.loadImage(archive as unknown as NodeJS.ReadableStream, { quiet: true })) as unknown as Readable;
    const loaded: string[] = [];
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(stream, (error: Error | null) => (error ? reject(error) : resolve()), (event: { stream?: string; error?: string; errorDetail?: { message?: string } }) => {
        const name = /^Loaded image(?: ID)?: (.+)$/m.exec(event.stream ?? '')?.[1];
        if (name) loaded.push(name.trim());
        if (event.error) reject(new Error(event.errorDetail?.message ?? event.error));
      });
    });
    return loaded;
  }

  private async assertManaged(id: string): Promise<void> {
    const info = await this.inspect(id);
    if (info.Config.Labels?.[LABEL.managed] !== 'true') throw new NotManaged(`container ${id} is not managed by dozen (no ${LABEL.managed}=true label); left alone`);
    if (await this.imageClaimsManaged(info.Image)) throw new NotManaged(`container ${id} has ${LABEL.managed} from its image, not from dozen; left alone`);
    if (!namedByDozen(info.Name.replace(/^\//, ''), info.Config.Labels)) throw new NotManaged(`container ${id} (${info.Name.replace(/^\//, '')}) has dozen's labels but not a name dozen gives; left alone`);
  }
}

function ignoreStatus(...statuses: number[]) {
  return (error: { statusCode?: number }) => {
    if (!statuses.includes(error.statusCode ?? 0)) throw error;
  };
}

/** Docker's multiplexed log frames (8-byte header: stream, 0, 0, 0, size) to plain text. */
function demultiplex(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}
