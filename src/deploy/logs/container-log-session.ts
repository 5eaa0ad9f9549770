import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Repository } from 'typeorm';
import { backoffDelay } from '../../common/backoff.js';
import type { LogAppenders } from '../../storage/log-appenders.js';
import { NotAppendable } from '../../storage/object-store.js';
import { continuationKey } from '../../storage/tailer/key-template.js';
import type { DockerClient } from '../agent/docker.client.js';
import type { ContainerLogMetrics } from './container-log-metrics.js';
import type { LogCheckpointEntity } from './log-checkpoint.entity.js';
import { LogFrames, type LogMessage } from './log-frames.js';
import { advance, ResumeFilter, type Marks } from './log-marks.js';

export interface ShippedContainer {
  id: string;
  app: string;
  instance: string;
}

export interface SessionContext {
  docker: DockerClient;
  appenders: LogAppenders;
  checkpoints: Repository<LogCheckpointEntity>;
  host: string;
  flushMs: number;
  log: Logger;
  metrics: ContainerLogMetrics;
}

const BATCH_BYTES = 256 * 1024;
const RETRY = { firstMs: 500, maxMs: 30_000 };

interface Entry {
  message: LogMessage;
  key: string;
  /** What goes into the object: the formatted line, less what an earlier run already put there. */
  bytes: Buffer;
}

/** `logs/<app>/<host>/<date>.log`, the date (UTC) of the message's own timestamp, so a re-read puts each line where it went the first time. */
export function logObjectKey(app: string, host: string, at: string): string {
  return `logs/${app}/${host}/${at.slice(0, 10)}.log`;
}

/** One line of the object: `<timestamp> <instance> <stream> <text>`. */
export function formatLine(instance: string, message: LogMessage): Buffer {
  const head = Buffer.from(`${message.at} ${instance} ${message.stream} `);
  const newline = message.text[message.text.length - 1] === 0x0a;
  return Buffer.concat(newline ? [head, message.text] : [head, message.text, Buffer.from('\n')]);
}

export function marksOf(row: LogCheckpointEntity): Marks {
  return { stdout: { at: row.stdoutAt, count: row.stdoutCount }, stderr: { at: row.stderrAt, count: row.stderrCount } };
}

/**
 * Reads one container's output through the Engine API from its checkpoint to
 * the end of the stream (the container stopped, or `stop()`), and appends it
 * to the day's object through the store's single appender of that key. Each
 * batch is recorded as pending before it is sent and committed (marks moved)
 * after the store confirmed it, as the tailer does with file offsets.
 */
export class ContainerLogSession {
  private stopped = false;
  private stream: Readable | null = null;
  private entries: Entry[] = [];
  private entryBytes = 0;
  private flushing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private row!: LogCheckpointEntity;
  private marks!: Marks;
  private skip = 0;
  /** Day objects that took no more appends (5 GB, or replaced by a PUT), and the continuation (`<date>.N.log`) now written instead. */
  private readonly continuations = new Map<string, number>();
  /** A batch that could not be sent (not a store outage: those are retried): the session ends with it and starts again from the checkpoint. */
  private failed: Error | null = null;

  constructor(
    private readonly container: ShippedContainer,
    private readonly context: SessionContext,
  ) {}

  async run(): Promise<void> {
    const { checkpoints, docker } = this.context;
    this.row = (await checkpoints.findOneBy({ containerId: this.container.id })) ?? checkpoints.create({
      containerId: this.container.id, host: this.context.host, app: this.container.app, instance: this.container.instance,
      stdoutAt: '', stdoutCount: 0, stderrAt: '', stderrCount: 0, skipBytes: 0, objectKey: null, objectPosition: 0, pendingLength: 0, updatedAt: Date.now(),
    });
    this.marks = marksOf(this.row);
    this.skip = this.row.skipBytes;
    const filter = new ResumeFilter(this.marks);
    if (this.stopped) return;
    const stream = await docker.timestampedLogs(this.container.id, { since: filter.since() });
    this.stream = stream;
    if (this.stopped) stream.destroy();
    const frames = new LogFrames();
    try {
      for await (const chunk of stream) {
        for (const message of frames.push(chunk as Buffer)) if (!filter.shipped(message)) this.add(message);
        if (this.entryBytes >= BATCH_BYTES) await this.flush();
        else this.timer ??= setTimeout(() => void this.flush().catch(() => undefined), this.context.flushMs);
      }
    } catch (error) {
      if (!this.stopped && !this.failed) throw error;
    } finally {
      if (this.timer) clearTimeout(this.timer);
    }
    if (this.failed) throw this.failed;
    // Stopped: what is read but not sent stays unshipped, and is read again at the next start.
    if (this.stopped) await this.flushing.catch(() => undefined);
    else await this.flush();
  }

  /** Ends the session; a batch being sent is finished or left pending (to be settled at the next start). */
  stop(): void {
    this.stopped = true;
    this.stream?.destroy();
  }

  private add(message: LogMessage): void {
    let bytes = formatLine(this.container.instance, message);
    if (this.skip > 0) {
      const dropped = Math.min(this.skip, bytes.length);
      this.skip -= dropped;
      bytes = bytes.subarray(dropped);
    }
    this.entries.push({ message, key: logObjectKey(this.container.app, this.context.host, message.at), bytes });
    this.entryBytes += bytes.length;
  }

  /** Sends what is read so far, after any flush already under way. */
  private flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const entries = this.entries;
    const skipAfter = this.skip;
    this.entries = [];
    this.entryBytes = 0;
    this.flushing = this.flushing.then(() => this.ship(entries, skipAfter));
    this.flushing.catch((error: Error) => {
      if (this.failed) return;
      this.failed = error;
      this.stream?.destroy();
    });
    return this.flushing;
  }

  /** Ships entries, one run per object key (a new day starts a new object). */
  private async ship(entries: Entry[], skipAfter: number): Promise<void> {
    for (let start = 0; start < entries.length; ) {
      let end = start + 1;
      while (end < entries.length && entries[end].key === entries[start].key) end++;
      await this.shipRun(entries.slice(start, end), skipAfter);
      start = end;
    }
  }

  private async shipRun(run: Entry[], skipAfter: number): Promise<void> {
    const base = run[0].key;
    const continued = this.continuations.get(base);
    const key = continued ? continuationKey(base, continued) : base;
    const data = Buffer.concat(run.map((entry) => entry.bytes));
    const marks = run.reduce((reached, entry) => advance(reached, entry.message), this.marks);
    if (!data.length) {
      // All of it was in the object already (a batch that landed before its commit was saved).
      await this.commit(marks, skipAfter, this.row.objectPosition);
      return;
    }
    const appender = this.context.appenders.of(key);
    let refused: NotAppendable | null = null;
    await appender.exclusive(async (position) => {
      this.row.objectKey = key;
      this.row.objectPosition = position;
      this.row.pendingLength = data.length;
      await this.save();
      let reached = 0;
      for (let failures = 0; ; ) {
        try {
          // After a failed attempt the bytes may have landed without our hearing of it: the appender checks.
          reached = await appender.append(position, data, failures ? data.length : 0);
          break;
        } catch (error) {
          this.context.metrics.failed(this.container.app);
          // The object takes no more appends, and nothing of this batch landed: retrying would wait for ever.
          // An empty object refused as full: this batch is past the store's limit on its own, and no key takes it.
          if (error instanceof NotAppendable && !(error.full && position === 0)) {
            refused = error;
            this.row.pendingLength = 0;
            return;
          }
          if (this.stopped) throw error;
          failures++;
          const wait = backoffDelay(failures, RETRY);
          this.context.log.warn({ container: this.container.id.slice(0, 12), key, failures, retryInMs: wait, err: error }, 'cannot append container output to the store; will retry');
          await sleep(wait);
        }
      }
      await this.commit(marks, skipAfter, reached);
      this.context.metrics.shipped(this.container.app, data.length, run.length);
    });
    if (refused) {
      const next = (continued ?? 0) + 1;
      this.continuations.set(base, next);
      this.context.log.warn({ container: this.container.id.slice(0, 12), key, continuedIn: continuationKey(base, next), err: (refused as NotAppendable).message }, 'log object takes no more appends; going on in the next key');
      await this.shipRun(run, skipAfter);
    }
  }

  /** Saves the moved marks; retried, since the bytes are in the store and only this record says so. */
  private async commit(marks: Marks, skipAfter: number, reached: number): Promise<void> {
    this.marks = marks;
    this.row.stdoutAt = marks.stdout.at;
    this.row.stdoutCount = marks.stdout.count;
    this.row.stderrAt = marks.stderr.at;
    this.row.stderrCount = marks.stderr.count;
    this.row.skipBytes = skipAfter;
    this.row.objectPosition = reached;
    this.row.pendingLength = 0;
    for (let failures = 0; ; ) {
      try {
        return await this.save();
      } catch (error) {
        if (this.stopped) throw error;
        failures++;
        this.context.log.warn({ container: this.container.id.slice(0, 12), failures, err: error }, 'cannot save the log checkpoint; will retry');
        await sleep(backoffDelay(failures, RETRY));
      }
    }
  }

  private async save(): Promise<void> {
    this.row.updatedAt = Date.now();
    await this.context.checkpoints.save(this.row);
  }
}
