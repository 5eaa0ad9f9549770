import { Readable } from 'node:stream';

/**
 * `body` passed on as it arrives, failing with `tooLarge()` as soon as more than `limit` bytes came
 * through, so a store never writes past the limit (it then stores nothing, as for any failed body).
 * The body itself is left open: destroying a request stream closes its socket before the 413 could go out.
 */
export function limitBytes(body: Readable, limit: number, tooLarge: () => Error): Readable {
  let seen = 0;
  async function* chunks(): AsyncGenerator<Buffer> {
    for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      seen += chunk.length;
      if (seen > limit) throw tooLarge();
      yield chunk;
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}
