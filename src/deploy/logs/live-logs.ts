import { Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import { adminToken } from '../../common/admin-token.js';
import { InjectLogger } from '../../common/core.module.js';
import { DomainError } from '../../common/errors.js';
import { Metrics } from '../../common/metrics.js';
import { textRecords } from '../../common/text-records.js';
import { InjectConfig } from '../../config/config.module.js';
import type { DozenConfig } from '../../config/config.schema.js';
import { RegistryService } from '../../registry/registry.service.js';
import { DockerClient } from '../agent/docker.client.js';
import { DeployConflict } from '../deploy.errors.js';
import { InstancesService } from '../instances.service.js';
import { LogFrames, type LogMessage } from './log-frames.js';

/** One line of a container's output, as people watch it. */
export interface LiveLogLine {
  stream: LogMessage['stream'];
  /** Docker's timestamp (UTC, nanoseconds). */
  at: string;
  /** The line without its newline. */
  text: string;
}

/** Sent with a request one host passes to another: the host that receives it serves it or refuses, never passes it on. */
export const FORWARDED_BY = 'x-dozen-forwarded-by';

/** Another host's dozen could not be asked, or failed: the caller learns which host and why. */
export class PeerFailed extends DomainError {
  constructor(message: string) {
    super(502, 'peer_failed', message);
  }
}

/**
 * An instance's container output for people watching it (REST `logs`, GraphQL `instanceLogs`): the
 * Engine's logs API with timestamps, stdout and stderr kept apart. Only the instance's own host can
 * reach its Engine, so anywhere else the request goes to that host's dozen, found in the catalog (its
 * admin API, with the admin token every host of a cluster shares, as the load streams do), and its
 * lines come back as they arrive. Each follow on the instance's own host holds one Engine stream until
 * its `stop` (counted in `dozen_deploy_log_follows`, so a leak shows).
 */
@Injectable()
export class LiveLogs {
  private readonly log: Logger;
  private readonly open: Gauge;
  private readonly token: string;

  constructor(
    private readonly instances: InstancesService,
    private readonly registry: RegistryService,
    private readonly docker: DockerClient,
    @InjectConfig() private readonly config: DozenConfig,
    @InjectLogger() logger: Logger,
    metrics: Metrics,
  ) {
    this.log = logger.child({ module: 'deploy', part: 'live-logs' });
    this.open = new Gauge({ name: 'dozen_deploy_log_follows', help: "Engine log streams open for people following an instance's output", registers: [metrics.registry] });
    this.token = adminToken(config).token;
  }

  /** The last `tail` lines of the instance's output (stdout and stderr merged), from whichever host runs it. */
  async recent(id: string, tail: number, forwardedBy?: string): Promise<string> {
    const instance = await this.instances.get(id);
    if (instance.host !== this.config.host.name) return (await this.askOwner(id, instance.host, `tail=${tail}`, forwardedBy)).text();
    if (!instance.containerId) throw new DeployConflict('no_container', `instance ${id} has no container (${instance.state})`);
    return this.docker.logs(instance.containerId, tail);
  }

  /**
   * Starts following the last `tail` lines and everything after; `onEnd` runs once when the
   * container's output ends (it stopped) or the stream broke. Throws when the instance has no
   * container, or its host cannot be asked. Returns the stop, which closes the stream.
   */
  async follow(id: string, tail: number, onLine: (line: LiveLogLine) => void, onEnd: () => void, forwardedBy?: string): Promise<() => void> {
    const instance = await this.instances.get(id);
    if (instance.host !== this.config.host.name) return this.followElsewhere(id, instance.host, tail, onLine, onEnd, forwardedBy);
    if (!instance.containerId) throw new DeployConflict('no_container', `instance ${id} has no container (${instance.state})`);
    const stream = await this.docker.timestampedLogs(instance.containerId, { tail });
    this.open.inc();
    const frames = new LogFrames();
    let ended = false;
    const stop = () => {
      if (ended) return false;
      ended = true;
      this.open.dec();
      stream.destroy();
      return true;
    };
    const end = () => stop() && onEnd();
    stream.on('data', (chunk: Buffer) => {
      let messages: LogMessage[];
      try {
        messages = frames.push(chunk);
      } catch (error) {
        this.log.warn({ instance: id, err: error }, 'container log stream unreadable');
        return end();
      }
      for (const message of messages) onLine({ stream: message.stream, at: message.at, text: message.text.toString('utf8').replace(/\r?\n$/, '') });
    });
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', (error: Error) => {
      this.log.warn({ instance: id, err: error }, 'container log stream failed');
      end();
    });
    return () => void stop();
  }

  /** The owner's follow as JSON lines (REST `format=ndjson`), read as they arrive. */
  private async followElsewhere(id: string, host: string, tail: number, onLine: (line: LiveLogLine) => void, onEnd: () => void, forwardedBy?: string): Promise<() => void> {
    const controller = new AbortController();
    const response = await this.askOwner(id, host, `tail=${tail}&follow=1&format=ndjson`, forwardedBy, controller.signal);
    let stopped = false;
    void (async () => {
      try {
        for await (const line of textRecords(response.body!, '\n')) if (line) onLine(JSON.parse(line) as LiveLogLine);
      } catch (error) {
        if (!stopped) this.log.warn({ instance: id, host, err: error }, "following an instance's output on its host failed");
      }
      if (!stopped) onEnd();
    })();
    return () => {
      stopped = true;
      controller.abort();
    };
  }

  /**
   * GET `query` of the instance's logs from the dozen of the host that runs it. A request that
   * already came from another host is not passed on: the two hosts disagree on where the instance
   * runs, and passing it on could go round in circles.
   */
  private async askOwner(id: string, host: string, query: string, forwardedBy: string | undefined, signal?: AbortSignal): Promise<Response> {
    if (forwardedBy !== undefined) {
      throw new DeployConflict('other_host', `instance ${id} runs on host ${host}, not ${this.config.host.name}, which ${forwardedBy} asked for its output: a request another host passed on is not passed on again`);
    }
    const peer = this.registry.peer(host);
    if (!peer) throw new DeployConflict('other_host', `instance ${id} runs on host ${host}, which is not in the catalog now: its dozen is down, or it runs on one host only (registry.catalog: embedded)`);
    const url = `${peer.url}/deploy/instances/${encodeURIComponent(id)}/logs?${query}`;
    let response: Response;
    try {
      response = await fetch(url, { headers: { authorization: `Bearer ${this.token}`, [FORWARDED_BY]: this.config.host.name }, signal });
    } catch (error) {
      throw new PeerFailed(`instance ${id} runs on host ${host}, whose dozen at ${peer.url} cannot be reached${peer.passing ? '' : ' (its catalog check is not passing)'}: ${causeOf(error)}`);
    }
    if (response.ok && response.body) return response;
    const answer = (await response.json().catch(() => null)) as { error?: string; message?: string } | null;
    // The owner's own refusals (no container yet, a bad tail) are the caller's to read as they are.
    if (response.status === 400 || response.status === 404 || response.status === 409) {
      throw new DomainError(response.status, answer?.error ?? 'peer_failed', `host ${host}: ${answer?.message ?? `answered ${response.status}`}`);
    }
    const hint = response.status === 401 ? ' (every host of a cluster needs the same admin.token)' : '';
    throw new PeerFailed(`instance ${id} runs on host ${host}, whose dozen at ${peer.url} answered ${response.status}${hint}: ${answer?.message ?? response.statusText}`);
  }
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
