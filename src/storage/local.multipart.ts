import { randomUUID } from 'node:crypto';
import { access, mkdir, open, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { DomainError } from '../common/errors.js';
import { combineCrc64 } from './crc64.js';
import { KeyedLock } from './keyed-lock.js';
import { receive, receiveFile } from './local.file-writer.js';
import { assertContentType, assertPartNumber, assertSafeKey, ChecksumMismatch, MIN_PART_SIZE, PartTooSmall, UploadNotFound, type PartInfo } from './object-store.js';

const MIB = 1024 * 1024;

/** `upload.json` in an upload's folder. */
interface UploadFile {
  key: string;
  contentType: string | null;
  /** Set when the client promised equal parts: they are then written in place (see LocalMultipart). */
  partSize?: number;
}

/** What completing hands back to the store: a durable file holding the object's bytes, and their CRC64. */
export interface Assembled {
  file: string;
  crc64: string;
  contentType?: string;
}

/**
 * Multipart uploads of the local store, one folder each under
 * `<root>/multipart/<uploadId>/`, so they survive a restart.
 *
 * With a part size (dozen's own uploader always gives one), part n is written
 * straight to its place in one file, `object`, at (n - 1) × partSize, and
 * completing only truncates that file to its length and moves it under the
 * key: the bytes are written once. Without one, each part is its own file and
 * completing copies them into the object (parts may then differ in size).
 *
 * A part is listed (`<n>.json`) only after its bytes were synced, and its
 * listing is removed before it is written again, so a listed part is always on
 * disk: the uploader skips listed parts when it resumes.
 */
export class LocalMultipart {
  /** Two sends of one part at once would interleave their bytes in place: they go one after the other. */
  private readonly partLocks = new KeyedLock();

  constructor(
    private readonly root: string,
    private readonly tempPath: () => Promise<string>,
  ) {}

  async create(key: string, options: { contentType?: string; partSize?: number }): Promise<string> {
    assertSafeKey(key);
    assertContentType(options.contentType);
    const uploadId = randomUUID().replaceAll('-', '');
    const folder = this.folderOf(uploadId);
    await mkdir(folder, { recursive: true });
    const upload: UploadFile = { key, contentType: options.contentType ?? null, ...(options.partSize ? { partSize: options.partSize } : {}) };
    if (upload.partSize) await writeFile(join(folder, 'object'), '');
    await writeFile(join(folder, 'upload.json'), JSON.stringify(upload));
    return uploadId;
  }

  async putPart(key: string, uploadId: string, partNumber: number, body: Readable, size?: number): Promise<PartInfo> {
    assertPartNumber(partNumber);
    return this.partLocks.run(`${uploadId}/${partNumber}`, () => this.writePart(key, uploadId, partNumber, body, size));
  }

  private async writePart(key: string, uploadId: string, partNumber: number, body: Readable, size?: number): Promise<PartInfo> {
    const { folder, upload } = await this.open(key, uploadId);
    const listing = join(folder, `${partNumber}.json`);
    // No longer listed while it is rewritten: a crash midway must not leave the old listing over new bytes.
    await unlink(listing).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    let written;
    if (upload.partSize) {
      if (size !== undefined && size > upload.partSize) throw new DomainError(400, 'bad_request', `part ${partNumber} has ${size} bytes, more than the upload's part size ${upload.partSize}`, 'partSize');
      const handle = await open(join(folder, 'object'), 'r+');
      try {
        written = await receive(body, handle, (partNumber - 1) * upload.partSize, { limit: upload.partSize });
      } finally {
        await handle.close();
      }
    } else {
      const temp = join(folder, `${randomUUID()}.tmp`);
      try {
        written = await receiveFile(body, temp);
        await rename(temp, join(folder, `${partNumber}.part`));
      } finally {
        await rm(temp, { force: true });
      }
    }
    if (size !== undefined && written.size !== size) throw new ChecksumMismatch(`part ${partNumber} length`, String(size), String(written.size));
    const part: PartInfo = { partNumber, size: written.size, crc64: written.crc64, etag: `"${BigInt(written.crc64).toString(16)}-${written.size}"` };
    const temp = join(folder, `${partNumber}.json.tmp`);
    await writeFile(temp, JSON.stringify(part));
    await rename(temp, listing);
    return part;
  }

  async listParts(key: string, uploadId: string): Promise<PartInfo[]> {
    const { folder } = await this.open(key, uploadId);
    return this.partsIn(folder);
  }

  /**
   * Puts the object's bytes, durable, in a temp file and returns it with its CRC64
   * (combined from the parts', not read again). The upload folder stays until `forget`.
   */
  async assemble(key: string, uploadId: string): Promise<Assembled> {
    const { folder, upload } = await this.open(key, uploadId);
    const parts = await this.partsIn(folder);
    if (!parts.length) throw new DomainError(400, 'bad_request', `upload ${uploadId} has no parts`);
    if (upload.partSize) assertContiguous(parts, upload.partSize);
    // The rule OSS enforces, kept here too so an upload that passes on one host's store passes on OSS.
    const small = parts.slice(0, -1).find((part) => part.size < MIN_PART_SIZE);
    if (small) throw new PartTooSmall(small.partNumber);
    const crc64 = parts.reduce((whole, part) => combineCrc64(whole, part.crc64, part.size), '0');
    const contentType = upload.contentType ?? undefined;
    const temp = await this.tempPath();
    if (upload.partSize) {
      const handle = await open(join(folder, 'object'), 'r+');
      try {
        // A part that was once longer (a re-sent last part) may have left bytes past the end.
        await handle.truncate((parts.length - 1) * upload.partSize + parts[parts.length - 1].size);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      // Out of the folder first: from here no part can be written into the object.
      await rename(join(folder, 'object'), temp);
      return { file: temp, crc64, contentType };
    }
    await concatenate(parts.map((part) => join(folder, `${part.partNumber}.part`)), temp);
    return { file: temp, crc64, contentType };
  }

  /** Puts the in-place object back after a refused publish (If-None-Match), so the upload can still complete. */
  async restore(uploadId: string, assembled: Assembled): Promise<void> {
    const folder = this.folderOf(uploadId);
    const upload = JSON.parse(await readFile(join(folder, 'upload.json'), 'utf8')) as UploadFile;
    if (upload.partSize) await rename(assembled.file, join(folder, 'object'));
  }

  async forget(key: string, uploadId: string): Promise<void> {
    await this.open(key, uploadId, { mayBeAssembled: true });
    await rm(this.folderOf(uploadId), { recursive: true, force: true });
  }

  private folderOf(uploadId: string): string {
    return join(this.root, 'multipart', uploadId);
  }

  /** The upload, if it exists for this key and was not assembled already. */
  private async open(key: string, uploadId: string, options: { mayBeAssembled?: boolean } = {}): Promise<{ folder: string; upload: UploadFile }> {
    assertSafeKey(key);
    if (!/^[0-9a-f]{32}$/.test(uploadId)) throw new UploadNotFound(uploadId);
    const folder = this.folderOf(uploadId);
    const upload = await readFile(join(folder, 'upload.json'), 'utf8').then((text) => JSON.parse(text) as UploadFile, () => null);
    if (!upload || upload.key !== key) throw new UploadNotFound(uploadId);
    // An in-place upload whose object was moved out is finished (or a crash caught it finishing).
    if (upload.partSize && !options.mayBeAssembled && !(await access(join(folder, 'object')).then(() => true, () => false))) throw new UploadNotFound(uploadId);
    return { folder, upload };
  }

  private async partsIn(folder: string): Promise<PartInfo[]> {
    const names = (await readdir(folder)).filter((name) => /^\d+\.json$/.test(name));
    const parts = await Promise.all(names.map(async (name) => JSON.parse(await readFile(join(folder, name), 'utf8')) as PartInfo));
    return parts.sort((left, right) => left.partNumber - right.partNumber);
  }
}

/** In place, the parts must be 1..n with all but the last exactly `partSize` long: no holes, no overlaps. */
function assertContiguous(parts: PartInfo[], partSize: number): void {
  parts.forEach((part, index) => {
    if (part.partNumber !== index + 1) throw new DomainError(400, 'bad_request', `part ${index + 1} is missing (parts of an upload with a part size are numbered 1, 2, 3 ...)`);
    if (index < parts.length - 1 && part.size !== partSize) throw new DomainError(400, 'bad_request', `part ${part.partNumber} has ${part.size} bytes; every part but the last must have the part size, ${partSize}`);
  });
}

/** Copies `files` one after the other into a new file at `target`, durable on return. */
async function concatenate(files: string[], target: string): Promise<void> {
  const output = await open(target, 'w');
  const buffer = Buffer.allocUnsafe(4 * MIB);
  try {
    for (const file of files) {
      const input = await open(file, 'r');
      try {
        for (let read = 0; (read = (await input.read(buffer, 0, buffer.length)).bytesRead); ) await output.write(buffer, 0, read);
      } finally {
        await input.close();
      }
    }
    await output.datasync();
  } finally {
    await output.close();
  }
}
