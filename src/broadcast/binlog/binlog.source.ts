import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { EntityManager, Repository } from 'typeorm';
import { InjectLogger } from '../../common/core.module.js';
import { Metrics } from '../../common/metrics.js';
import type { DozenConfig } from '../../config/config.schema.js';
import { InjectConfig } from '../../config/config.module.js';
import { BroadcastGateway } from '../broadcast.gateway.js';
import { BroadcastService } from '../broadcast.service.js';
import { BinlogCheckpoint } from './binlog-checkpoint.entity.js';
import { BinlogReader, type BinlogStream, type RawBinlogEvent } from './binlog.reader.js';
import { CheckpointState } from './checkpoint-state.js';
import { comparePositions, refusedRotate, roomOf, rowChanges, rowStatement, sortablePosition, statementRooms, truncateChange, type BinlogPosition, type RowChange, type RowStatement } from './row-messages.js';
import { SchemaSelection } from './schema-selection.js';
import { connectProblem, serverAdvice, serverProblems } from './server-check.js';

/** `losing`: reading, but the server logs row changes in a form the source cannot publish (binlog_format is no longer ROW). */
export type SourceStatus = 'off' | 'starting' | 'running' | 'reconnecting' | 'stopped' | 'losing';

const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 5000;
const PRESSURE_CHECK_MS = 50;

/**
 * Reads the MySQL/MariaDB binlog as a replica and publishes each row change
 * into `db.<schema>.<table>`. Delivery into the hub is exactly once across
 * restarts: the checkpoint (resume point, last published change, room seqs)
 * is written only after the changes up to it were published; on restart
 * reading resumes at the checkpoint's transaction boundary, replayed changes
 * at or before the last published one are dropped by position, and the rest
 * get the same seqs they would have had.
 */
@Injectable()
export class BinlogSource implements OnApplicationBootstrap, OnModuleDestroy {
  status: SourceStatus = 'off';
  problem: string | null = null;
  advice: string | null = null;
  private stream: BinlogStream | null = null;
  private file = '';
  /** Published and confirmed: what the checkpoint saves. */
  private readonly checkpoint = new CheckpointState();
  /** Read from the stream (ahead of the confirmed pair while bus publishes are in flight). */
  private readAt: { file: string; pos: number } | null = null;
  private lastRead: BinlogPosition | null = null;
  /** Bus publishes confirm in order; each confirmation moves the checkpoint forward. */
  private confirmations: Promise<void> = Promise.resolve();
  private generation = 0;
  private inFlight = 0;
  private saving: Promise<void> | null = null;
  private paused = false;
  private attempt = 0;
  private timers: NodeJS.Timeout[] = [];
  private retry: NodeJS.Timeout | null = null;
  private closing = false;
  private readonly log: Logger;
  private readonly sourceKey: string;
  /** Rooms this source published into (with the bus, roomSeqs is not kept). */
  private readonly rooms = new Set<string>();
  /** Rooms told of lost changes since the format went wrong (each is told once). */
  private readonly brokenRooms = new Set<string>();
  private statementSeen = false;
  /** The lower binlog file whose changes were last dropped (logged once per file). */
  private droppedFile: string | null = null;
  /** Rooms whose changes came with columns left out (a session's binlog_row_image MINIMAL/NOBLOB): logged once each. */
  private readonly partialRooms = new Set<string>();
  private readonly lostChanges: Counter;
  private readonly selection: SchemaSelection;
  /** Why the last save of the binlog position failed (with the Redis bus; on one host the room store saves it and says so). */
  checkpointProblem: string | null = null;

  constructor(
    @InjectConfig() private readonly config: DozenConfig,
    private readonly reader: BinlogReader,
    private readonly broadcast: BroadcastService,
    private readonly gateway: BroadcastGateway,
    @InjectRepository(BinlogCheckpoint) private readonly checkpoints: Repository<BinlogCheckpoint>,
    @InjectLogger() logger: Logger,
    metrics: Metrics,
  ) {
    this.log = logger.child({ module: 'broadcast', component: 'binlog' });
    this.lostChanges = new Counter({
      name: 'dozen_broadcast_binlog_unpublishable_total',
      help: 'Data-changing statements on included tables logged as statements (binlog_format not ROW), and format checks that failed while reading: changes that could not be published',
      registers: [metrics.registry],
    });
    const url = this.settings.url ? new URL(this.settings.url) : null;
    this.sourceKey = url ? `${url.hostname}:${url.port || 3306}` : '';
    this.selection = new SchemaSelection(this.settings.include, this.settings.exclude, config.database.url);
  }

  private get settings() {
    return this.config.broadcast.binlog;
  }

  /** Where the source stands, for health: position published up to and whether it reads. */
  position(): { file: string; pos: number } | null {
    return this.checkpoint.resumeAt;
  }

  onApplicationBootstrap(): void {
    if (!this.settings.enabled) return;
    if (!this.settings.url) {
      this.stop('broadcast.binlog.url is not set: give the MySQL server to read, e.g. mysql://cdc@db-host:3306/');
      return;
    }
    this.status = 'starting';
    this.log.info({ schemas: this.selection.neverPublished }, "schemas never published: the server's system schemas and dozen's own database");
    this.timers.push(setInterval(() => void this.saveCheckpoint(), this.settings.checkpointMs));
    this.timers.push(setInterval(() => this.applyBackpressure(), PRESSURE_CHECK_MS));
    this.gateway.onPressure(() => this.pauseNow());
    this.timers.push(setInterval(() => void this.recheckFormat(), this.settings.recheckSeconds * 1000));
    // One host: the checkpoint is written in the same transaction as the rooms it numbered, never ahead of them.
    if (!this.broadcast.bus) this.broadcast.store.attach(() => this.checkpointWrite());
    void this.loadCheckpoint().then(
      () => this.connect(),
      (error: Error) => this.stop(`cannot read the saved binlog position from dozen's database: ${error.message}`),
    );
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    for (const timer of this.timers) clearInterval(timer);
    if (this.retry) clearTimeout(this.retry);
    this.stream?.stop();
    this.stream = null;
    await this.saveCheckpoint();
  }

  /** Forgets the saved position and reads from the server's current end (after a purged binlog). */
  async reset(): Promise<void> {
    this.stream?.stop();
    this.stream = null;
    await this.saving;
    if (!this.broadcast.bus) await this.broadcast.store.save();
    await this.checkpoints.delete({ source: this.sourceKey });
    this.checkpoint.forget();
    this.readAt = null;
    this.lastRead = null;
    this.generation++;
    // The changes up to the end are skipped: no room continues its stream (and a seq lost in a crash is not given again).
    for (const room of this.broadcast.hub.binlogRooms()) this.broadcast.hub.breakRoom(room, 'the binlog position was reset: row changes up to then were skipped');
    this.log.warn({ source: this.sourceKey }, 'binlog position reset: reading from the server\'s current end');
    if (this.status === 'off') return;
    this.status = 'starting';
    this.problem = null;
    await this.connect();
  }

  private async loadCheckpoint(): Promise<void> {
    const saved = await this.checkpoints.findOneBy({ source: this.sourceKey });
    if (!this.broadcast.bus) this.breakRoomsNotReplayed(saved);
    if (!saved) return;
    // With the Redis bus, seqs live in Redis; without it, replayed changes must get their old seqs back.
    this.checkpoint.restore(saved, !this.broadcast.bus);
    for (const [room, seq] of this.checkpoint.roomSeqs) this.broadcast.hub.restoreSeq(room, seq);
    const { resumeAt, last, roomSeqs } = this.checkpoint;
    this.readAt = resumeAt;
    this.lastRead = last;
    this.log.info({ resumeAt, last, rooms: roomSeqs.size }, 'binlog checkpoint loaded');
  }

  /**
   * One host: a room keeps its epoch across a restart because the changes after the saved seq are
   * read again from the checkpoint saved with it and get the seqs they had. A room the checkpoint does
   * not number at its saved seq (no checkpoint for this server: reading starts at the end; or another
   * one) cannot have that: it starts a new epoch, or a seq a client saw before a crash would be given
   * to another change in the same epoch.
   */
  private breakRoomsNotReplayed(saved: BinlogCheckpoint | null): void {
    const seqs = saved ? (JSON.parse(saved.roomSeqs) as Record<string, number>) : {};
    const why = saved
      ? "the saved binlog position does not number this room's last saved message"
      : `no binlog position is saved for ${this.sourceKey}: reading starts at the server's current end`;
    const broken = this.broadcast.hub.binlogRooms().filter((room) => seqs[room] !== this.broadcast.hub.seq(room));
    for (const room of broken) this.broadcast.hub.breakRoom(room, why);
    if (broken.length) this.log.warn({ rooms: broken, reason: why }, 'binlog rooms start a new epoch');
  }

  private async connect(): Promise<void> {
    if (this.closing) return;
    let problems: string[];
    try {
      const facts = await this.reader.facts(this.settings.url!, this.settings.password);
      problems = serverProblems(facts);
      this.advice = serverAdvice(facts);
      if (this.advice) this.log.warn({ advice: this.advice }, 'binlog source: server setting advised');
    } catch (error) {
      return this.reconnectLater(connectProblem(this.sourceKey, this.settings.url!, error as Error & { errno?: number }));
    }
    if (problems.length) {
      this.stop(`binlog source stopped: ${problems.join('; ')}`);
      this.retry = setTimeout(() => void this.connect(), this.settings.recheckSeconds * 1000);
      return;
    }
    const stream = await this.reader.open({
      url: this.settings.url!,
      password: this.settings.password,
      serverId: this.settings.serverId,
      startAt: this.readAt ?? 'end',
      includeSchema: this.selection.includeFilter,
      excludeSchema: this.selection.excludeFilter,
    });
    this.stream = stream;
    this.paused = false;
    // Rotates are checked against the file this connection starts in (a reconnect may go back to the checkpoint's).
    this.file = this.readAt?.file ?? '';
    stream.on('event', (event) => this.handle(stream, event));
    stream.on('error', (error) => this.failed(stream, error));
    stream.on('ready', () => {
      this.status = 'running';
      this.problem = null;
      this.log.info({ source: this.sourceKey, from: this.checkpoint.resumeAt ?? 'end' }, 'binlog source reading');
    });
  }

  private handle(stream: BinlogStream, event: RawBinlogEvent): void {
    if (stream !== this.stream) return;
    // Only now is the backoff reset: 'ready' comes before the server answers the binlog dump, so a refused dump
    // reconnected every 250 ms for ever.
    this.attempt = 0;
    const name = event.getEventName();
    if (name === 'rotate') {
      const refused = refusedRotate(this.file, event.binlogName ?? '');
      // zongji decides once per connection whether events carry a checksum: after binlog_checksum changed it
      // can misread a rotate (`binlog.00` for `binlog.000013`), and every row of the real file then looked
      // like a replay and was dropped. A fresh connection reads the rotate again.
      if (refused) return this.failed(stream, new Error(refused));
      this.file = event.binlogName!;
    } else if (name === 'query') {
      const truncate = truncateChange(event, this.file);
      if (truncate && this.selection.passes(truncate.schema, truncate.table)) this.publish(truncate);
      const statement = truncate ? null : rowStatement(event);
      if (statement && this.selection.concerns(statement)) this.unpublishable(statement);
    } else if (name !== 'tablemap' && name !== 'xid') {
      for (const change of rowChanges(event, this.file)) this.publish(change);
    }
    // Read synchronously inside the handler: zongji keeps it on a transaction boundary.
    const resumeAt = stream.resumePoint();
    if (resumeAt && (resumeAt.file !== this.readAt?.file || resumeAt.pos !== this.readAt?.pos)) {
      this.readAt = resumeAt;
      this.confirmed(null, () => (this.checkpoint.resumeAt = resumeAt));
    }
  }

  private publish(change: RowChange): void {
    // At-least-once replay from the resume point: drop what was already published.
    if (this.lastRead && comparePositions(change.position, this.lastRead) <= 0) {
      // A replay stays in the file it replays; a lower file is something else going wrong, and must not be silent.
      if (change.position.file < this.lastRead.file && this.droppedFile !== change.position.file) {
        this.droppedFile = change.position.file;
        this.log.warn({ file: change.position.file, lastPublished: this.lastRead }, 'binlog source dropping changes from a file before the last published one');
      }
      return;
    }
    this.lastRead = change.position;
    const room = roomOf(change.schema, change.table);
    if (!this.rooms.has(room)) {
      this.rooms.add(room);
      this.broadcast.hub.markReplayable(room);
    }
    if (change.partial && !this.partialRooms.has(room) && this.partialRooms.add(room))
      this.log.warn({ room, position: change.position }, 'binlog row images lack columns (binlog_row_image MINIMAL or NOBLOB in a session): published with partial:true');
    const bus = this.broadcast.bus;
    if (!bus) {
      const published = this.broadcast.hub.publish(room, change);
      this.checkpoint.roomSeqs.set(room, published.seq);
      this.confirmed(null, () => this.checkpoint.publishedUpTo(change.position));
      return;
    }
    // Redis drops a position it already has (a replay after a crash), so every host sees each change once.
    const work = bus.publish(room, change, Date.now(), { key: `binlog:${this.sourceKey}`, position: sortablePosition(change.position) });
    this.confirmed(work, () => this.checkpoint.publishedUpTo(change.position));
  }

  /** Applies `update` to the checkpoint state once `work` and everything before it are confirmed; synchronously when nothing is in flight. */
  private confirmed(work: Promise<unknown> | null, update: () => void): void {
    if (!work && !this.inFlight) {
      update();
      return;
    }
    const generation = this.generation;
    this.inFlight++;
    this.confirmations = Promise.all([this.confirmations, work]).then(
      () => {
        this.inFlight--;
        if (generation !== this.generation) return;
        update();
      },
      (error: Error) => {
        this.inFlight--;
        if (generation !== this.generation) return;
        this.generation++;
        this.confirmations = Promise.resolve();
        // Re-read from the last confirmed point; Redis drops what it already had.
        this.stream?.stop();
        this.stream = null;
        this.readAt = this.checkpoint.resumeAt;
        this.lastRead = this.checkpoint.last;
        this.reconnectLater(`publishing to the Redis bus failed: ${error.message}`);
      },
    );
  }

  /**
   * A row change arrived as a statement (someone switched binlog_format away
   * from ROW while the source ran): it cannot be published. Say so loudly —
   * health down with the fix, an error line, a metric — and give its rooms a
   * new epoch with a history_gap, so subscribers reload instead of silently
   * missing it. Reading goes on, so row events after the fix are not lost;
   * the source is back to running once a check finds ROW again.
   */
  private unpublishable(statement: RowStatement): void {
    this.lostChanges.inc();
    this.statementSeen = true;
    const where = `${statement.schema}.${statement.table ?? '*'}`;
    this.loseChanges(
      `binlog source cannot publish: ${statement.op} on ${where} was logged as a statement, not as row events (binlog_format is no longer ROW); ` +
        "set binlog_format=ROW (SET GLOBAL binlog_format='ROW' and in my.cnf), then reload what subscribers of the rooms concerned show",
      statementRooms(statement, this.rooms),
    );
  }

  private loseChanges(problem: string, rooms: string[]): void {
    const fresh = rooms.filter((room) => !this.brokenRooms.has(room));
    if (this.status !== 'losing' || fresh.length) this.log.error({ problem, rooms: fresh }, 'binlog source losing changes');
    this.status = 'losing';
    this.problem = problem;
    for (const room of fresh) {
      this.brokenRooms.add(room);
      this.broadcast.hub.breakRoom(room, 'row changes of this room could not be read from the binlog (binlog_format is no longer ROW)');
    }
  }

  /** Settings are rechecked while reading too: a format switched away from ROW turns the source down before (or even without) a lost change. */
  private async recheckFormat(): Promise<void> {
    if (this.status !== 'running' && this.status !== 'losing') return;
    const facts = await this.reader.facts(this.settings.url!, this.settings.password).catch(() => null);
    if (!facts || (this.status !== 'running' && this.status !== 'losing')) return;
    const wrong = serverProblems(facts).filter((problem) => /^binlog_(format|row_image)/.test(problem));
    if (wrong.length) {
      if (this.status === 'running') this.lostChanges.inc();
      // Changes written from now on may be lost; everything this source publishes is concerned.
      this.loseChanges(`binlog source cannot publish every change: ${wrong.join('; ')}`, [...this.rooms]);
    } else if (this.status === 'losing' && !this.statementSeen) {
      this.status = 'running';
      this.problem = null;
      this.brokenRooms.clear();
      this.log.info({ source: this.sourceKey }, 'binlog format is ROW again: publishing every change');
    }
    this.statementSeen = false;
  }

  private failed(stream: BinlogStream, error: Error & { code?: string; errno?: number }): void {
    if (stream !== this.stream) return;
    stream.stop();
    this.stream = null;
    if (error.errno === 1236 || /purged|could not find first log file|binlog truncated/i.test(error.message)) {
      const saved = this.checkpoint.resumeAt;
      const at = saved ? `${saved.file}:${saved.pos}` : 'the saved position';
      this.stop(
        `binlog source stopped: ${at} is no longer on the server (binlog purged?): ${error.message}. ` +
          'To skip the changes in between and read from the current end: POST /broadcast/binlog/reset',
      );
      return;
    }
    this.reconnectLater(`binlog connection lost: ${error.code ?? ''} ${error.message}`.trim());
  }

  private reconnectLater(problem: string): void {
    if (this.closing) return;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt++);
    this.status = 'reconnecting';
    this.problem = problem;
    this.log.warn({ problem, retryInMs: delay }, 'binlog source reconnecting');
    this.retry = setTimeout(() => void this.connect(), delay);
  }

  private stop(problem: string): void {
    this.status = 'stopped';
    this.problem = problem;
    this.log.error({ problem }, 'binlog source stopped');
  }

  /** A client passed half its send buffer: stop reading before the next event (mysql2 holds the packets it already has). */
  private pauseNow(): void {
    if (this.paused || !this.stream) return;
    this.paused = true;
    this.stream.pause();
  }

  /**
   * Paces reading by the slowest healthy subscriber: paused while one has more
   * than half its send buffer unsent (or all have more than `pauseAboveBytes`;
   * with the Redis bus, publishes in flight count 1 KiB each), resumed below a
   * quarter (half). So a subscriber that reads at any pace gets a bulk change
   * whole instead of being closed with 1013; one that reads nothing for
   * `stuckClientSeconds` stops holding the reader and gets the 1013.
   */
  private applyBackpressure(): void {
    if (!this.stream) return;
    const { slowest, total } = this.gateway.backlog(this.settings.stuckClientSeconds * 1000);
    const buffered = total + this.inFlight * 1024;
    const perClient = this.gateway.pressureBytes();
    if (!this.paused && (slowest > perClient || buffered > this.settings.pauseAboveBytes)) {
      this.pauseNow();
    } else if (this.paused && slowest < perClient / 2 && buffered < this.settings.pauseAboveBytes / 2) {
      this.paused = false;
      this.stream.resume();
    } else if (this.paused) {
      this.stream.pause(); // zongji resumes the connection itself after its metadata queries
    }
  }

  /** The checkpoint as of now, as a write for the room store's next transaction; null when nothing moved. */
  private checkpointWrite(): ((manager: EntityManager) => Promise<unknown>) | null {
    const row = this.checkpoint.cut(this.sourceKey, this.closing);
    return row ? (manager) => manager.save(BinlogCheckpoint, row) : null;
  }

  private async saveCheckpoint(): Promise<void> {
    // One host: the room store writes the checkpoint with the rooms (checkpointWrite).
    if (!this.broadcast.bus) return this.broadcast.store.save();
    if (this.saving) return;
    const row = this.checkpoint.cut(this.sourceKey, this.closing);
    if (!row) return;
    this.saving = this.checkpoints
      .save(row)
      .then(
        () => {
          this.checkpointProblem = null;
        },
        (error: Error) => {
          this.checkpoint.unsaved();
          if (!this.checkpointProblem) this.log.error({ err: error }, "saving the binlog position to dozen's database failed; retrying");
          this.checkpointProblem = `saving the binlog position to dozen's database fails: ${error.message}`;
        },
      )
      .finally(() => (this.saving = null));
    await this.saving;
  }
}
