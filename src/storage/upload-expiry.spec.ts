import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { pino } from 'pino';
import type { AuditTrail } from '../audit/audit-trail.service.js';
import type { DozenConfig } from '../config/config.schema.js';
import type { StorageService } from './storage.service.js';
import { UploadExpiry } from './upload-expiry.js';

describe('UploadExpiry', () => {
  it('looks no more once the module is destroyed, even when that happens during a look', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      let looks = 0;
      let answer!: (idle: []) => void;
      const storage = {
        idleUploads: () => {
          looks++;
          return new Promise<[]>((resolve) => (answer = resolve));
        },
      } as unknown as StorageService;
      const config = { storage: { uploadExpirySeconds: 60 } } as DozenConfig;
      const expiry = new UploadExpiry(storage, {} as AuditTrail, config, pino({ level: 'silent' }));
      expiry.onApplicationBootstrap();
      answer([]);
      await new Promise((resolve) => setImmediate(resolve));
      mock.timers.tick(6_000); // a tenth of the expiry: the next look
      assert.equal(looks, 2);
      const destroyed = expiry.onModuleDestroy();
      answer([]);
      await destroyed;
      await new Promise((resolve) => setImmediate(resolve));
      mock.timers.tick(60 * 60_000);
      assert.equal(looks, 2, 'no look after the module is destroyed');
    } finally {
      mock.timers.reset();
    }
  });
});
