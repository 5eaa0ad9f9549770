import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { AuditTrail } from '../audit/audit-trail.service.js';
import { InjectLogger } from '../common/core.module.js';
import type { DozenConfig } from '../config/config.schema.js';
import { InjectConfig } from '../config/config.module.js';
import { StorageService } from './storage.service.js';

/** The longest wait between two looks for abandoned uploads: an upload outlives its expiry by at most this. */
const MAX_SWEEP_MS = 10 * 60_000;

/**
 * Aborts resumable uploads that got no part for `storage.uploadExpirySeconds`, and drops their parts, as
 * an OSS lifecycle rule aborts multipart uploads: otherwise a caller that starts uploads and never
 * completes them fills the store with parts nobody can see or list. Each host sweeps the uploads it
 * records (`<dataDir>/uploads/`); every expiry lands in the audit trail, done by `dozen`.
 */
@Injectable()
export class UploadExpiry implements OnApplicationBootstrap, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  /** The look under way, if any: shutdown waits for it, so it never runs on against a closed database. */
  private running: Promise<void> | null = null;
  /** Set at shutdown: a look that ends after it schedules no next one, and one under way stops between uploads. */
  private stopped = false;
  private readonly expiryMs: number;
  private readonly log: Logger;

  constructor(
    private readonly storage: StorageService,
    private readonly audit: AuditTrail,
    @InjectConfig() config: DozenConfig,
    @InjectLogger() logger: Logger,
  ) {
    this.expiryMs = config.storage.uploadExpirySeconds * 1000;
    this.log = logger.child({ module: 'storage', component: 'upload-expiry' });
  }

  onApplicationBootstrap(): void {
    const sweep = () => {
      this.running = this.sweep().finally(() => {
        this.running = null;
        if (!this.stopped) this.timer = setTimeout(sweep, Math.min(this.expiryMs / 10, MAX_SWEEP_MS)).unref();
      });
    };
    sweep();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One look: every upload idle past the expiry is aborted; one that fails is tried again at the next look. */
  private async sweep(): Promise<void> {
    const idle = await this.storage.idleUploads(Date.now() - this.expiryMs).catch((error: unknown) => {
      this.log.warn({ err: error }, 'cannot list uploads in progress to expire abandoned ones');
      return [];
    });
    for (const { record, lastActivity } of idle) {
      if (this.stopped) return;
      const detail = { uploadId: record.uploadId, created: record.created, lastActivity: new Date(lastActivity).toISOString() };
      try {
        await this.storage.expireUpload(record);
      } catch (error) {
        this.log.warn({ err: error, key: record.key, ...detail }, 'cannot abort an abandoned upload; trying again later');
        continue;
      }
      this.log.info({ key: record.key, ...detail }, 'abandoned upload expired');
      await this.audit.record({ module: 'storage', actor: 'dozen', action: 'upload.expire', target: record.key, detail, address: null, outcome: 'ok' }).catch((error: unknown) => {
        this.log.warn({ err: error, key: record.key }, 'cannot record an upload expiry in the audit trail');
      });
    }
  }
}
