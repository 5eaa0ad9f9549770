import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { millis } from '../database/millis.js';

/** Lists and maps kept as JSON text, so SQLite and MySQL store them alike. */
const json = { to: (value: unknown) => JSON.stringify(value), from: (value: string) => JSON.parse(value) as unknown };

export type Runtime = 'nodejs' | 'php-laravel' | 'image';
export type ReleaseStatus = 'queued' | 'building' | 'ready' | 'failed' | 'cancelled';
export type DesiredState = 'running' | 'stopped' | 'removed';

/** A dozen host with the deploy module on; each keeps its own row fresh (lastSeenAt). */
@Entity('deploy_hosts')
export class HostEntity {
  @PrimaryColumn({ type: 'varchar', length: 63 }) name!: string;
  @Column({ type: 'varchar', length: 255 }) address!: string;
  @Column({ type: 'text', transformer: json }) labels!: Record<string, string>;
  @Column({ type: 'varchar', length: 64 }) version!: string;
  @Column({ type: 'text', transformer: json }) modules!: string[];
  @Column({ name: 'last_seen_at', type: 'bigint', transformer: millis }) lastSeenAt!: number;
}

/** An app: where its code is, how it runs, and what it is told. Secrets hold AES-256-GCM ciphertexts only. */
@Entity('deploy_apps')
export class AppEntity {
  @PrimaryColumn({ type: 'varchar', length: 63 }) name!: string;
  @Column({ type: 'varchar', length: 1024, nullable: true }) repository!: string | null;
  @Column({ name: 'default_ref', type: 'varchar', length: 255 }) defaultRef!: string;
  @Column({ type: 'varchar', length: 16 }) runtime!: Runtime;
  /** The image an `image` app runs. */
  @Column({ type: 'varchar', length: 512, nullable: true }) image!: string | null;
  /** The port the container listens on; null: it reads PORT, which the agent sets. */
  @Column({ type: 'int', nullable: true }) port!: number | null;
  @Column({ name: 'health_path', type: 'varchar', length: 255 }) healthPath!: string;
  @Column({ type: 'text', transformer: json }) env!: Record<string, string>;
  @Column({ type: 'text', transformer: json }) secrets!: Record<string, string>;
  @Column({ type: 'text', transformer: json }) domains!: string[];
  /** The release new instances run (the last deployed or rolled back to); null before the first ready build. */
  @Column({ type: 'varchar', length: 16, nullable: true }) release!: string | null;
  @Column({ name: 'memory_mb', type: 'int', nullable: true }) memoryMb!: number | null;
  /** CPUs as thousandths (1500 = 1.5 CPUs), an integer on every database. */
  @Column({ name: 'cpu_millis', type: 'int', nullable: true }) cpuMillis!: number | null;
  @Column({ name: 'created_at', type: 'bigint', transformer: millis }) createdAt!: number;
  @Column({ name: 'updated_at', type: 'bigint', transformer: millis }) updatedAt!: number;
}

/** One build of an app at one git commit; its image is what instances run. */
@Entity('deploy_releases')
@Index(['app', 'createdAt'])
export class ReleaseEntity {
  @PrimaryColumn({ type: 'varchar', length: 16 }) id!: string;
  @Column({ type: 'varchar', length: 63 }) app!: string;
  @Column({ type: 'varchar', length: 255 }) ref!: string;
  /** The full SHA the ref resolved to (null until the clone). */
  @Column({ name: 'git_commit', type: 'varchar', length: 64, nullable: true }) commit!: string | null;
  @Column({ name: 'image_id', type: 'varchar', length: 128, nullable: true }) imageId!: string | null;
  @Column({ type: 'varchar', length: 16 }) status!: ReleaseStatus;
  @Column({ name: 'build_log', type: 'text' }) buildLog!: string;
  @Column({ type: 'varchar', length: 1024, nullable: true }) error!: string | null;
  @Column({ name: 'created_at', type: 'bigint', transformer: millis }) createdAt!: number;
  @Column({ name: 'created_by', type: 'varchar', length: 128 }) createdBy!: string;
  /** The host that builds it: the one that took the deploy. */
  @Column({ name: 'build_host', type: 'varchar', length: 63 }) buildHost!: string;
  /** When its image left the store (past `deploy.keepReleases`); such a release can no longer be rolled back to. */
  @Column({ name: 'image_removed_at', type: 'bigint', nullable: true, transformer: millis }) imageRemovedAt!: number | null;
  /** SHA-256 (hex) of its image archive as the build host saved it; a host loads only an archive that matches. Null until saved. */
  @Column({ name: 'image_archive_sha256', type: 'varchar', length: 64, nullable: true }) imageArchiveSha256!: string | null;
}

/** Desired state of one instance; what it really does is reported by its host's agent (dozen/status/<id>). */
@Entity('deploy_instances')
export class InstanceEntity {
  @PrimaryColumn({ type: 'varchar', length: 32 }) id!: string;
  @Column({ type: 'varchar', length: 63 }) app!: string;
  @Column({ type: 'varchar', length: 63 }) host!: string;
  @Column({ type: 'varchar', length: 16 }) release!: string;
  @Column({ type: 'varchar', length: 16 }) desired!: DesiredState;
  /** Bumped by each restart: the agent replaces a container whose generation is older. */
  @Column({ type: 'int' }) generation!: number;
  /** Crashes and failed starts the agent restarted it after; kept here so it survives a restart of dozen. */
  @Column({ name: 'restart_count', type: 'int', default: 0 }) restartCount!: number;
  @Column({ name: 'created_at', type: 'bigint', transformer: millis }) createdAt!: number;
  @Column({ name: 'updated_at', type: 'bigint', transformer: millis }) updatedAt!: number;
}
