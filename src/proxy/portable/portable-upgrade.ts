import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { BalanceRequest } from '../balancers/index.js';
import { downstreamHeaders } from '../headers.js';
import { reasonOf, refuse } from '../http1/refuse.js';
import type { RequestHead } from '../http1/request-head.js';
import type { RouteEntry } from '../route-table.js';
import type { UpgradeOptions } from '../upgrade.js';
import type { Upstream } from './portable-exchange.js';
import { failureOf, splitHead } from './wire.js';

/**
 * The portable engine's WebSocket (any HTTP/1.1 Upgrade) pass-through, with
 * the fast engine's rule (upgrade.ts): the handshake goes to a backend chosen
 * by the balancer (another one when the connection is refused, at most
 * `retries` times), and only a `101` whose Upgrade names a protocol the
 * client asked for joins the two sockets. Any other answer goes to the client
 * as a normal response (a 101 to another protocol as 502), and the
 * connection stays HTTP: node:http let go of the socket at the Upgrade head,
 * so `handBack` gives it back to the server (with the bytes read after the
 * head) and what the client sends next is parsed, authenticated and logged.
 * When that cannot be done safely the connection closes after the answer,
 * and nothing the client sent after the head reaches any backend:
 * `Connection: close`, HTTP/1.0, or an answer without a Content-Length (its
 * end is the connection's). A handshake with a body never gets here (400).
 */
export function passUpgradePortable(client: Duplex, rest: Buffer, head: RequestHead, handshake: string, requestId: string, entry: RouteEntry<Upstream>, balance: BalanceRequest, options: UpgradeOptions, handBack: (socket: Duplex, rest: Buffer) => void): void {
  const canStay = head.body === 'none' && !head.http10 && !tokens(head.headers.connection ?? '').has('close');
  const headers = headerObject(splitHead(handshake));
  const asked = tokens(upgradeOf(head.rawHeaders));
  const tried = new Set<number>();
  let done = false;
  const finish = (backend: string | null, status: number, error: string | null) => {
    if (done) return;
    done = true;
    options.onDone(backend, status, error);
  };
  client.on('error', () => client.destroy());

  const attempt = (): void => {
    const index = entry.balancer(entry.targets, balance, tried);
    if (index < 0 || tried.size > options.retries) {
      refuse(client, 502, 'bad_gateway', `no backend of ${entry.app} accepted the connection`);
      return finish(null, 502, 'connect_refused');
    }
    tried.add(index);
    const { backend, upstream } = entry.targets[index];
    let connected = false;
    const outgoing = httpRequest({ host: backend.address, port: backend.port, method: head.method, path: head.url, headers, setHost: false, agent: false, timeout: options.connectTimeout });
    outgoing.on('socket', (socket: Socket) => socket.once('connect', () => {
      connected = true;
      outgoing.setTimeout(options.idleTimeout);
    }));
    client.once('close', () => outgoing.destroy());
    outgoing.on('timeout', () => outgoing.destroy(Object.assign(new Error(connected ? 'the backend did not answer the upgrade in time' : 'connect timeout'), { code: connected ? 'UND_ERR_HEADERS_TIMEOUT' : 'ETIMEDOUT' })));
    outgoing.on('error', (error: Error) => {
      if (done) return void client.destroy();
      const failure = failureOf(error);
      if (!connected && (failure === 'connect_refused' || failure === 'connect_timeout' || failure === 'unreachable')) {
        upstream.markDown();
        return attempt();
      }
      const timeout = failure.endsWith('timeout');
      refuse(client, timeout ? 504 : 502, timeout ? 'gateway_timeout' : 'bad_gateway', timeout ? `the backend did not answer in time (${failure})` : `the upgrade failed at the backend (${failure})`);
      finish(upstream.key, timeout ? 504 : 502, failure);
    });
    outgoing.on('upgrade', (response: IncomingMessage, socket: Socket, upgradeHead: Buffer) => {
      const offered = response.headers.upgrade ?? '';
      if (!offered || ![...tokens(offered)].every((protocol) => asked.has(protocol))) {
        socket.destroy();
        finish(upstream.key, 502, 'bad_response');
        const message = 'the backend switched to a protocol the client did not ask for';
        if (!canStay) return refuse(client, 502, 'bad_gateway', message);
        const body = JSON.stringify({ error: 'bad_gateway', message });
        client.write(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\n\r\n${body}`, 'latin1');
        return handBack(client, rest);
      }
      const { lines } = downstreamHeaders(response.rawHeaders, requestId);
      client.write(`HTTP/1.1 101 ${response.statusMessage || 'Switching Protocols'}\r\n${lines}connection: upgrade\r\nupgrade: ${offered}\r\n\r\n`, 'latin1');
      if (upgradeHead.length) client.write(upgradeHead);
      if (rest.length) socket.write(rest);
      socket.setTimeout(options.idleTimeout, () => socket.destroy());
      socket.setNoDelay(true);
      socket.on('error', () => client.destroy());
      socket.on('close', () => client.destroy());
      client.on('close', () => socket.destroy());
      socket.pipe(client);
      client.pipe(socket);
      finish(upstream.key, 101, null);
    });
    outgoing.on('response', (response: IncomingMessage) => {
      // Not switched: a normal answer, then the connection goes back to HTTP (or closes, see above).
      const { lines, hasLength } = downstreamHeaders(response.rawHeaders, requestId);
      const status = response.statusCode ?? 502;
      const bodiless = head.method === 'HEAD' || status === 204 || status === 304;
      if (canStay && (hasLength || bodiless)) {
        client.write(`HTTP/1.1 ${status} ${response.statusMessage || reasonOf(status)}\r\n${lines}\r\n`, 'latin1');
        response.pipe(client, { end: false });
        response.once('end', () => handBack(client, rest));
        return finish(upstream.key, status, null);
      }
      client.write(`HTTP/1.1 ${status} ${response.statusMessage || reasonOf(status)}\r\n${lines}connection: close\r\n\r\n`, 'latin1');
      response.pipe(client);
      if (!hasLength) response.once('end', () => client.end());
      finish(upstream.key, status, null);
    });
    outgoing.end();
  };
  attempt();
}

function upgradeOf(raw: string[]): string {
  const values: string[] = [];
  for (let index = 0; index < raw.length; index += 2) if (raw[index].toLowerCase() === 'upgrade') values.push(raw[index + 1]);
  return values.join(',');
}

/** The protocol names of an Upgrade value, lowercased, versions kept (`websocket`, `h2c`). */
function tokens(value: string): Set<string> {
  return new Set(value.split(',').map((token) => token.trim().toLowerCase()).filter(Boolean));
}

/** [name, value, ...] as node:http's request headers (repeated names as lists). */
function headerObject(pairs: string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let index = 0; index < pairs.length; index += 2) {
    const name = pairs[index];
    const prior = out[name];
    out[name] = prior === undefined ? pairs[index + 1] : [...(Array.isArray(prior) ? prior : [prior]), pairs[index + 1]];
  }
  return out;
}
