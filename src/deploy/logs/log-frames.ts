/** One message of a container's output as the Engine's logs API sends it with `timestamps=1`. */
export interface LogMessage {
  stream: 'stdout' | 'stderr';
  /** Docker's timestamp, canonical: UTC, nine fraction digits (`2026-11-29T17:13:04.123456789Z`), so text order is time order. */
  at: string;
  /** The message after its timestamp, with its newline when it had one (a line over 16 KB comes as several messages, the last with the newline). */
  text: Buffer;
}

const STREAMS: Record<number, LogMessage['stream']> = { 1: 'stdout', 2: 'stderr' };
const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;

/** Docker's RFC 3339 timestamp (nanoseconds, any offset) in the canonical form of `LogMessage.at`. */
export function canonicalTimestamp(text: string): string {
  const match = TIMESTAMP.exec(text);
  if (!match) throw new Error(`not a Docker timestamp: ${JSON.stringify(text)}`);
  const [, seconds, fraction = '', offset] = match;
  const utc = offset === 'Z' ? `${seconds}Z` : new Date(Date.parse(`${seconds}${offset}`)).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return `${utc.slice(0, 19)}.${fraction.padEnd(9, '0')}Z`;
}

/** A canonical timestamp as the logs API's `since` (`<unix seconds>.<nanoseconds>`; the Engine keeps messages at or after it). */
export function sinceArgument(at: string): string {
  return `${Date.parse(`${at.slice(0, 19)}Z`) / 1000}.${at.slice(20, 29)}`;
}

/**
 * Splits the Engine's multiplexed log stream (8-byte headers: stream, 0, 0, 0,
 * big-endian size; one frame per message) into messages. Chunks may cut
 * frames anywhere; the rest waits for the next chunk.
 */
export class LogFrames {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): LogMessage[] {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const messages: LogMessage[] = [];
    let offset = 0;
    while (offset + 8 <= this.buffered.length) {
      const size = this.buffered.readUInt32BE(offset + 4);
      if (offset + 8 + size > this.buffered.length) break;
      const stream = STREAMS[this.buffered[offset]];
      const payload = this.buffered.subarray(offset + 8, offset + 8 + size);
      offset += 8 + size;
      if (!stream) continue; // stdin (0) or a system error frame (3): not output of the app
      const space = payload.indexOf(0x20);
      if (space < 0) throw new Error(`log frame without a timestamp: ${JSON.stringify(payload.subarray(0, 60).toString())}`);
      messages.push({ stream, at: canonicalTimestamp(payload.subarray(0, space).toString('latin1')), text: payload.subarray(space + 1) });
    }
    this.buffered = this.buffered.subarray(offset);
    return messages;
  }
}
