import { Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import { InjectLogger } from '../../common/core.module.js';
import { Metrics } from '../../common/metrics.js';
import { InjectConfig } from '../../config/config.module.js';
import type { DozenConfig } from '../../config/config.schema.js';
import { DockerClient } from '../agent/docker.client.js';
import { DeployConflict } from '../deploy.errors.js';
import { HostsService } from '../hosts.service.js';
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

/**
 * Follows an instance's container output for people watching it (REST
 * `logs?follow=1`, GraphQL `instanceLogs`): the Engine's logs API with
 * timestamps, stdout and stderr kept apart. Only the instance's own host can
 * reach its Engine; anywhere else the follow is refused with the host to ask.
 * Each follow holds one Engine stream until its `stop` (counted in
 * `dozen_deploy_log_follows`, so a leak shows).
 */
@Injectable()
export class LiveLogs {
  private readonly log: Logger;
  private readonly open: Gauge;

  constructor(
    private readonly instances: InstancesService,
    private readonly hosts: HostsService,
    private readonly docker: DockerClient,
    @InjectConfig() private readonly config: DozenConfig,
    @InjectLogger() logger: Logger,
    metrics: Metrics,
  ) {
    this.log = logger.child({ module: 'deploy', part: 'live-logs' });
    this.open = new Gauge({ name: 'dozen_deploy_log_follows', help: "Engine log streams open for people following an instance's output", registers: [metrics.registry] });
  }

  /**
   * Starts following the last `tail` lines and everything after; `onEnd` runs once when the
   * container's output ends (it stopped) or the stream broke. Throws a DeployConflict when this
   * host cannot follow the instance. Returns the stop, which closes the Engine stream.
   */
  async follow(id: string, tail: number, onLine: (line: LiveLogLine) => void, onEnd: () => void): Promise<() => void> {
    const instance = await this.instances.get(id);
    if (instance.host !== this.config.host.name) {
      const host = await this.hosts.find(instance.host);
      const where = host ? ` (${host.address}, ${host.state})` : '';
      throw new DeployConflict('other_host', `instance ${id} runs on host ${instance.host}${where}: its output is followed through that host's dozen, not ${this.config.host.name}`);
    }
    if (!instance.containerId) throw new DeployConflict('no_container', `instance ${id} has no container (${instance.state})`);
    const stream = await this.docker.timestampedLogs(instance.containerId, { tail });
    this.open.inc();
    const frames = new LogFrames();
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      this.open.dec();
      stream.destroy();
      onEnd();
    };
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
    return () => {
      if (ended) return;
      ended = true;
      this.open.dec();
      stream.destroy();
    };
  }
}
