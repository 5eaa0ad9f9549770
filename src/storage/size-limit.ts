import { finished, Transform, type Readable } from 'node:stream';

/**
 * `body` passed on as it arrives, failing with `tooLarge()` as soon as more than `limit` bytes came
 * through, so a store never writes past the limit (it then stores nothing, as for any failed body).
 * The body itself is only unpiped, not destroyed: destroying a request stream closes its socket before
 * the 413 could go out. A Transform, not an async generator: ≈ 20 ms of CPU per GiB instead of ≈ 200.
 */
export function limitBytes(body: Readable, limit: number, tooLarge: () => Error): Readable {
  let seen = 0;
  const limited = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > limit ? tooLarge() : null, chunk);
    },
  });
  // pipe() does not pass a failure of its source on: a client that goes away must fail the write too.
  finished(body, (error) => error && limited.destroy(error));
  return body.pipe(limited);
}
