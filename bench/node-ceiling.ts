/**
 * The ceilings of the portable engine, for `BENCH_CEILING=1 npm run bench:proxy`: what any proxy
 * built on node:http (and undici) can reach on this machine, whatever it does per request.
 *
 *   node dist/bench/node-ceiling.js bare <port>                  # node:http answering itself, no backend
 *   node dist/bench/node-ceiling.js undici <port> <backendPort>  # node:http + one undici Pool, nothing else
 *
 * `undici` forwards as the portable engine does (Pool.dispatch with a handler, the backend's raw
 * headers to writeHead once, backpressure by onData's return) but with no routing, header rules,
 * request ids, timeouts of its own or access record. Run as a forked child; says 'listening' over IPC.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Pool } from 'undici';

const BODY = Buffer.from('hello, dozen\n');

function bare(_request: IncomingMessage, response: ServerResponse): void {
  response.writeHead(200, ['content-type', 'text/plain', 'content-length', String(BODY.length)]);
  response.end(BODY);
}

function forwarder(backendPort: number): (request: IncomingMessage, response: ServerResponse) => void {
  const pool = new Pool(`http://127.0.0.1:${backendPort}`, { connections: 128, keepAliveTimeout: 30_000 });
  return (request, response) => {
    const headers = ['host', request.headers.host ?? '', 'x-forwarded-for', request.socket.remoteAddress ?? '', 'x-forwarded-proto', 'http'];
    pool.dispatch({ path: request.url ?? '/', method: request.method ?? 'GET', headers }, {
      onConnect: () => {},
      onHeaders: (status, raw, resume) => {
        const strings = (raw as unknown as Buffer[]).map((value) => value.toString('latin1'));
        response.writeHead(status, strings);
        response.on('drain', resume);
        return true;
      },
      onData: (chunk) => response.write(chunk),
      onComplete: () => response.end(),
      onError: (error) => response.destroy(error),
    });
  };
}

const [mode, port, backendPort] = process.argv.slice(2);
const handle = mode === 'bare' ? bare : forwarder(Number(backendPort));
createServer({ noDelay: true, keepAliveTimeout: 65_000, requireHostHeader: false }, handle).listen(Number(port), '127.0.0.1', () => process.send?.('listening'));
