import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import WebSocket from 'ws';

export interface Frame {
  type: string;
  room?: string;
  seq?: number;
  epoch?: string;
  data?: unknown;
  ts?: number;
  code?: string;
  message?: string;
}

/** A real `ws` client that records every frame, for tests. */
export class TestClient {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()));
      this.wake();
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static async connect(baseUrl: string, token?: string, options: { query?: boolean } = {}): Promise<TestClient> {
    const url = baseUrl.replace(/^http/, 'ws') + '/ws' + (token && options.query ? `?token=${encodeURIComponent(token)}` : '');
    const socket = new WebSocket(url, { headers: token && !options.query ? { authorization: `Bearer ${token}` } : {} });
    // Listen before 'open': a frame sent right after the handshake may arrive in the same read.
    const client = new TestClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return client;
  }

  send(frame: object): void {
    this.socket.send(JSON.stringify(frame));
  }

  messages(room: string): Frame[] {
    return this.frames.filter((frame) => frame.type === 'message' && frame.room === room);
  }

  /** Waits until `predicate` holds over the frames received so far (or the socket closes, if `orClose`). */
  async until(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; last frames: ${JSON.stringify(this.frames.slice(-3))}; closed: ${JSON.stringify(this.closed)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async frame(type: string, room?: string, timeoutMs = 10_000): Promise<Frame> {
    let found: Frame | undefined;
    await this.until(`a ${type} frame${room ? ` for ${room}` : ''}`, () => Boolean((found = this.frames.find((frame) => frame.type === type && (!room || frame.room === room)))), timeoutMs);
    this.frames.splice(this.frames.indexOf(found!), 1);
    return found!;
  }

  async join(room: string, since?: number): Promise<Frame> {
    this.send({ type: 'join', room, ...(since === undefined ? {} : { since }) });
    return this.frame('joined', room);
  }

  async closedWith(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    await this.until('the socket to close', () => this.closed !== null, timeoutMs);
    return this.closed!;
  }

  close(): void {
    this.socket.terminate();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

/** One client → server text frame, masked as RFC 6455 §5.3 requires. */
function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const length = payload.length;
  if (length > 0xffff) throw new Error('a test frame is under 64 KiB');
  const header = length < 126 ? Buffer.from([0x81, 0x80 | length]) : Buffer.from([0x81, 0x80 | 126, length >> 8, length & 0xff]);
  return Buffer.concat([header, mask, payload.map((byte, index) => byte ^ mask[index % 4])]);
}

/**
 * Opens `/ws` over a plain TCP socket and sends `frames` in the same write as the upgrade request, so they reach the
 * server before it checked the token (what `ws` never does: it waits for 'open'). Resolves with the text frames the
 * server sent and its close frame, once it closed or `settleMs` passed without a close.
 */
export async function sendBeforeAuth(baseUrl: string, token: string, frames: object[], settleMs = 2000): Promise<{ frames: Frame[]; closed: { code: number; reason: string } | null }> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  const request = `GET /ws HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`;
  socket.write(Buffer.concat([Buffer.from(request), ...frames.map((frame) => maskedTextFrame(JSON.stringify(frame)))]));
  let received = Buffer.alloc(0);
  const result: { frames: Frame[]; closed: { code: number; reason: string } | null } = { frames: [], closed: null };
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, settleMs);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const headersEnd = received.indexOf('\r\n\r\n');
      if (headersEnd < 0) return;
      // Server frames are unmasked; a test reads only short ones (7-bit or 16-bit length).
      let offset = headersEnd + 4;
      result.frames = [];
      while (offset + 2 <= received.length) {
        const opcode = received[offset] & 0x0f;
        let length = received[offset + 1] & 0x7f;
        let start = offset + 2;
        if (length === 126) [length, start] = [received.readUInt16BE(offset + 2), offset + 4];
        if (start + length > received.length) break;
        const payload = received.subarray(start, start + length);
        if (opcode === 1) result.frames.push(JSON.parse(payload.toString()));
        if (opcode === 8) {
          result.closed = { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString() };
          clearTimeout(timer);
          resolve();
        }
        offset = start + length;
      }
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  socket.destroy();
  return result;
}
