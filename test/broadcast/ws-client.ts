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
