/**
 * The fast engine's check of itself, run once per worker before it serves:
 * a real exchange on loopback through everything of Node's it leans on.
 * Loading llhttp.ts already checked `_http_common` has an HTTPParser; here a
 * client socket sends two requests through the engine's client parser
 * (consumed socket, callbacks, keep-alive) to a backend on a raw socket,
 * whose answers come back through the response side: the first a plain
 * response (PlainResponse and direct writes), the second chunked (llhttp's
 * response parser and the streaming write path). Anything missing throws; a
 * wrong or missing answer throws too, so `auto` falls back (engine-choice.ts).
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { ProxyCore } from '../proxy-core.js';
import type { ProxyServerOptions } from '../proxy.server.js';
import { createEngine, createPool } from './http1.engine.js';

const HOST = 'self-test.dozen.invalid';
/**
 * A broken engine throws at once; only a hang waits this long, and a slow start on a loaded host is
 * not a fault.
 */
const DEADLINE_MS = 10_000;
const CHUNKED_ANSWER = 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n';

export async function selfTest(fault: boolean): Promise<void> {
  if (fault) throw new Error('the self-test was told to fail (proxy.engineSelfTestFault)');
  // Exclusive ports: in a cluster, workers share port 0 by default, so one worker's self-test could reach
  // another's engine or backend, closed by the time the connection arrives (a hang seen on bench starts).
  const backend = createServer((socket) => answerTwice(socket));
  backend.listen({ port: 0, host: '127.0.0.1', exclusive: true });
  await once(backend, 'listening');
  const options: ProxyServerOptions = {
    host: '127.0.0.1', port: 0, engine: 'fast', retries: 0, trustedProxies: [], upstreamConnections: 1, onExchange: null,
    timeouts: { connect: DEADLINE_MS, headers: DEADLINE_MS, idle: DEADLINE_MS, clientHeaders: DEADLINE_MS, clientKeepAlive: DEADLINE_MS },
  };
  const core = new ProxyCore(options, (address, port) => createPool(address, port, options));
  const backendPort = (backend.address() as AddressInfo).port;
  core.setRoutes({ version: 1, apps: [{ app: 'self-test', domains: [HOST], backends: [{ instance: 'self-test-1', app: 'self-test', address: '127.0.0.1', port: backendPort, host: 'self', load: null }] }] });
  const engine = createEngine(core, options);
  const client: Socket[] = [];
  try {
    const port = await engine.listen(0, '127.0.0.1', { exclusive: true });
    const socket = connect(port, '127.0.0.1');
    client.push(socket);
    await within(once(socket, 'connect'), 'connecting to the engine');
    const reader = new Reader(socket);
    socket.write(`GET /plain HTTP/1.1\r\nhost: ${HOST}\r\n\r\n`);
    const plain = await within(reader.until((text) => text.endsWith('\r\n\r\nplain')), 'a plain response');
    expect(plain.startsWith('HTTP/1.1 200 OK\r\n') && /\r\nx-request-id: [0-9a-f-]{36}\r\n/.test(plain), 'the plain response', plain);
    socket.write(`POST /chunked HTTP/1.1\r\nhost: ${HOST}\r\ntransfer-encoding: chunked\r\n\r\n4\r\nping\r\n0\r\n\r\n`);
    const chunked = await within(reader.until((text) => text.endsWith('0\r\n\r\n')), 'a chunked response');
    expect(chunked.startsWith('HTTP/1.1 200 OK\r\n') && chunked.includes('\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n'), 'the chunked response', chunked);
  } finally {
    for (const socket of client) socket.destroy();
    await engine.close();
    core.closePools();
    backend.close();
  }
}

/** The backend: a plain answer to the first request, a chunked one (after its whole body) to the second. */
function answerTwice(socket: Socket): void {
  let received = '';
  let answered = 0;
  socket.setEncoding('latin1');
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    received += chunk;
    if (answered === 0 && received.includes('\r\n\r\n')) {
      answered = 1;
      received = received.slice(received.indexOf('\r\n\r\n') + 4);
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nplain');
    }
    if (answered === 1 && received.includes('\r\n4\r\nping\r\n0\r\n\r\n')) {
      answered = 2;
      socket.write(CHUNKED_ANSWER);
    }
  });
}

/** What a socket received since the last `until`, cut at the point the condition held. */
class Reader {
  private text = '';
  private waiter: (() => void) | null = null;

  constructor(socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.text += chunk;
      this.waiter?.();
    });
    socket.on('error', () => this.waiter?.());
  }

  until(done: (text: string) => boolean): Promise<string> {
    return new Promise((resolve) => {
      this.waiter = () => {
        if (!done(this.text)) return;
        this.waiter = null;
        const text = this.text;
        this.text = '';
        resolve(text);
      };
      this.waiter();
    });
  }
}

function expect(ok: boolean, what: string, got: string): void {
  if (!ok) throw new Error(`${what} came back wrong: ${JSON.stringify(got.slice(0, 200))}`);
}

async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${DEADLINE_MS} ms waiting for ${what}`)), DEADLINE_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
