import { z } from 'zod';
import { secret } from '../config/secret.js';
import { keyTemplateProblem } from './tailer/key-template.js';

const tailSource = z.strictObject({
  /** Files to follow, e.g. `/var/log/app/*.log`; files created later that match are picked up too. */
  glob: z.string().min(1),
  /** Object key template; `{host}`, `{app}`, `{file}` (base name), `{date}` (UTC YYYY-MM-DD) are filled in. */
  key: z
    .string()
    .min(1)
    .superRefine((template, context) => {
      const problem = keyTemplateProblem(template);
      if (problem) context.addIssue({ code: 'custom', message: problem });
    })
    .default('logs/{host}/{file}/{date}.log'),
  /** Value of `{app}`; for Docker json-file logs leave unset and it is read from the container's config. */
  app: z.string().min(1).optional(),
});

export const storageConfig = z
  .strictObject({
    /** `local` keeps objects in a folder under the data dir (one host); `oss` uses an Alibaba Cloud OSS bucket. */
    driver: z.enum(['local', 'oss']).default('local'),
    oss: z
      .strictObject({
        /** The bucket's region, `oss-cn-hangzhou` or `cn-hangzhou`; V4 signatures name it, so v4 requires it. */
        region: z.string().min(1).optional(),
        /** Custom endpoint (an OSS-compatible server); `http://` is allowed for tests on loopback. */
        endpoint: z.string().min(1).optional(),
        bucket: z.string().min(1).optional(),
        accessKeyId: secret().optional(),
        accessKeySecret: secret().optional(),
        /** `v1` (`Authorization: OSS id:signature`) or `v4` (`OSS4-HMAC-SHA256`, HMAC-SHA256 with a key scoped to date and region). */
        authorizationVersion: z.enum(['v1', 'v4']).default('v1'),
        /** Address the bucket in the path (`endpoint/bucket/key`) instead of the host name, for OSS-compatible servers. */
        pathStyle: z.boolean().default(false),
        /** Retries on 5xx and network errors, with exponential backoff. */
        retries: z.number().int().min(0).max(20).default(4),
        timeoutMs: z.number().int().min(1000).default(60_000),
      })
      .superRefine((oss, context) => {
        // Without a region ali-oss would sign V4 for cn-hangzhou, whatever the endpoint.
        if (oss.authorizationVersion === 'v4' && !oss.region) context.addIssue({ code: 'custom', path: ['region'], message: 'is required with authorizationVersion v4 (the region is part of the V4 signature)' });
      })
      .prefault({}),
    /**
     * The largest object the API stores (a PUT, or a resumable upload's parts together): a larger one is
     * refused with 413 and nothing is stored, so one caller cannot fill the store's disk in one request.
     */
    maxObjectBytes: z.number().int().min(1).default(5 * 1024 ** 3),
    /**
     * A resumable upload that gets no part for this long is abandoned: dozen aborts it and drops its
     * parts, as an OSS lifecycle rule aborts multipart uploads (default 24 h).
     */
    uploadExpirySeconds: z.number().int().min(1).default(24 * 60 * 60),
    /**
     * Resumable uploads one caller (a user, the admin token, an API token) may have open at once: each may
     * grow to maxObjectBytes and lives until uploadExpirySeconds, so without a cap one caller fills the disk.
     */
    maxOpenUploads: z.number().int().min(1).default(100),
    /** Bodies larger than this go to OSS as multipart uploads (a body up to it is held in memory and sent in one PutObject). */
    multipartThreshold: z.number().int().min(100 * 1024).default(16 * 1024 * 1024),
    /** Part size of those multipart uploads; two parts are in flight at once. */
    partSize: z.number().int().min(100 * 1024).default(8 * 1024 * 1024),
    /** Log files the tailer follows and ships to the store, line by line. */
    tail: z.array(tailSource).default([]),
    tailer: z
      .strictObject({
        /** A batch is written when it reaches this many bytes, or `flushMs` after its first line. */
        batchBytes: z.number().int().min(1024).default(4 * 1024 * 1024),
        flushMs: z.number().int().min(10).default(1000),
        /** A last line without its newline is shipped after this long without growth. */
        partialLineMs: z.number().int().min(100).default(5000),
        /** How often globs are searched again for new files. */
        scanMs: z.number().int().min(50).default(1000),
        /** Backoff while the store is down: starts at 500 ms, doubles up to this. */
        maxBackoffMs: z.number().int().min(100).default(10_000),
      })
      .prefault({}),
  })
  .superRefine((storage, context) => {
    // Checked here, not when the store is made, so a missing one stops the start with the one-line config error (exit 2).
    if (storage.driver !== 'oss') return;
    for (const key of ['bucket', 'accessKeyId', 'accessKeySecret'] as const) {
      if (!storage.oss[key]) context.addIssue({ code: 'custom', path: ['oss', key], message: 'is required with storage.driver oss' });
    }
    if (!storage.oss.region && !storage.oss.endpoint) context.addIssue({ code: 'custom', path: ['oss', 'region'], message: 'is required with storage.driver oss, unless storage.oss.endpoint is set' });
  })
  .prefault({});

export type StorageConfig = z.output<typeof storageConfig>;
export type TailSource = z.output<typeof tailSource>;
