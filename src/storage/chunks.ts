import type { Readable } from 'node:stream';

/** Cuts a stream into buffers of exactly `size` bytes (the last one shorter), calling `seen` on every byte in order. */
export async function* chunksOf(body: Readable, size: number, seen: (chunk: Buffer) => void): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingSize = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    seen(buffer);
    pending.push(buffer);
    pendingSize += buffer.length;
    while (pendingSize >= size) {
      const joined = Buffer.concat(pending);
      yield joined.subarray(0, size);
      pending = [joined.subarray(size)];
      pendingSize = joined.length - size;
    }
  }
  if (pendingSize > 0) yield Buffer.concat(pending);
}

export function rechunk(buffers: Buffer[], size: number): Buffer[] {
  const joined = Buffer.concat(buffers);
  const parts: Buffer[] = [];
  for (let start = 0; start < joined.length; start += size) parts.push(joined.subarray(start, start + size));
  return parts;
}
