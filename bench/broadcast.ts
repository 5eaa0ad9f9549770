/**
 * npm run bench:broadcast
 *
 * (1) fan-out: 1,000 WebSocket subscribers on one room, 200-byte messages;
 *     dozen's hub vs a minimal plain-ws broadcast loop, same clients, same run.
 * (2) CDC: row inserts into MariaDB at a fixed rate -> p99 latency from the
 *     INSERT being sent to the change arriving at a subscriber.
 * Loopback only; bounded in time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { startDozen } from '../test/support/dozen-process.js';
import { startMariaDb } from '../test/support/mariadb.js';
import { waitFor } from '../test/support/ports.js';

const SUBSCRIBERS = 1000;
const BURST = 400;
const LATENCY_RATE = 5;
const LATENCY_SECONDS = 6;
const PAD = 'x'.repeat(160); // with {"t":...,"i":...} around it: a 200-byte payload

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  join(socket: WebSocket): void;
  publish(socket: WebSocket, payload: object): void;
}

interface FanOut {
  deliveriesPerSecond: number;
  p50: number;
  p99: number;
}

async function openAll(target: Target, count: number, onMessage: (payload: { t: number; i: number }) => void): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let index = 0; index < count; index++) {
    const socket = new WebSocket(target.url, { headers: target.headers });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    // The 1,000 clients share this process, so they read only the timestamp (no full JSON parse).
    socket.on('message', (raw) => {
      const text = raw.toString();
      const at = text.indexOf('"t":');
      if (at >= 0) onMessage({ t: parseFloat(text.slice(at + 4, text.indexOf(',', at))), i: 0 });
    });
    target.join(socket);
    sockets.push(socket);
  }
  return sockets;
}

async function fanOut(target: Target): Promise<FanOut> {
  let received = 0;
  let latencies: number[] = [];
  const subscribers = await openAll(target, SUBSCRIBERS, (payload) => {
    received++;
    latencies.push(performance.now() - payload.t);
  });
  const [publisher] = await openAll({ ...target, join: () => undefined }, 1, () => undefined);
  await new Promise((resolve) => setTimeout(resolve, 1000));

  // Throughput: a burst, timed until every subscriber has every message.
  received = 0;
  const started = performance.now();
  for (let index = 0; index < BURST; index++) target.publish(publisher, { t: performance.now(), i: index, pad: PAD });
  await waitFor('the burst to arrive', async () => received >= BURST * SUBSCRIBERS, 120_000, 5);
  const deliveriesPerSecond = (BURST * SUBSCRIBERS) / ((performance.now() - started) / 1000);

  // Latency: a steady rate well below the ceiling.
  await new Promise((resolve) => setTimeout(resolve, 500));
  latencies = [];
  received = 0;
  const total = LATENCY_RATE * LATENCY_SECONDS;
  for (let index = 0; index < total; index++) {
    target.publish(publisher, { t: performance.now(), i: index, pad: PAD });
    await new Promise((resolve) => setTimeout(resolve, 1000 / LATENCY_RATE));
  }
  await waitFor('the paced messages to arrive', async () => received >= total * SUBSCRIBERS, 60_000, 5);
  for (const socket of [...subscribers, publisher]) socket.terminate();
  latencies.sort((a, b) => a - b);
  return { deliveriesPerSecond, p50: latencies[Math.floor(latencies.length * 0.5)], p99: latencies[Math.floor(latencies.length * 0.99)] };
}

async function plainWsServer(): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'plain-ws-server.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (chunk) => resolve(Number(String(chunk).trim()))));
  return { port, child };
}

async function cdc(): Promise<{ rate: number; p50: number; p99: number; sendP99: number; rows: number }> {
  const mariadb = await startMariaDb({ fresh: true });
  const admin = await mariadb.connect();
  await admin.query('CREATE DATABASE bench_shop; CREATE TABLE bench_shop.orders (id INT PRIMARY KEY, note VARCHAR(40))');
  const dozen = await startDozen({
    waitHealthy: false,
    env: { DOZEN_MODULES: 'broadcast', DOZEN_BROADCAST_BINLOG_ENABLED: 'true', DOZEN_BROADCAST_BINLOG_URL: mariadb.url, DOZEN_BROADCAST_BINLOG_INCLUDE: 'bench_shop', DOZEN_LOG_LEVEL: 'warn' },
  });
  try {
    await waitFor('the binlog source', async () => (await (await dozen.api('/broadcast/health')).json()).details?.binlog?.status === 'running', 30_000);
    const sentAt = new Map<number, number>();
    const committedAt = new Map<number, number>();
    const receivedAt = new Map<number, number>();
    const socket = new WebSocket(dozen.url.replace('http', 'ws') + '/ws', { headers: { authorization: `Bearer ${dozen.token}` } });
    await new Promise((resolve) => socket.once('open', resolve));
    socket.on('message', (raw) => {
      const frame = JSON.parse(raw.toString());
      if (frame.type === 'message') receivedAt.set(frame.data.after.id, performance.now());
    });
    socket.send(JSON.stringify({ type: 'join', room: 'db.bench_shop.orders' }));
    const rate = 1000;
    const seconds = 5;
    const connections = await Promise.all(Array.from({ length: 8 }, () => mariadb.connect('bench_shop')));
    // Warm-up: the first change of a table makes the reader fetch its columns.
    await connections[0].query("INSERT INTO orders VALUES (0, 'warm-up')");
    await waitFor('the warm-up change', async () => receivedAt.has(0), 10_000, 10);
    receivedAt.clear();
    const started = performance.now();
    let next = 1;
    // 8 writers, each taking the next id when its previous insert committed, paced to `rate` overall.
    await Promise.all(
      connections.map(async (connection) => {
        while (next <= rate * seconds) {
          const id = next++;
          const due = started + (id * 1000) / rate;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
          sentAt.set(id, performance.now());
          await connection.query('INSERT INTO orders VALUES (?, ?)', [id, 'bench']);
          committedAt.set(id, performance.now());
        }
      }),
    );
    const achieved = (rate * seconds) / ((performance.now() - started) / 1000);
    await waitFor('every change', async () => receivedAt.size >= rate * seconds, 60_000, 10);
    socket.terminate();
    for (const connection of connections) await connection.end();
    // commit -> client: from the moment the INSERT's commit was acknowledged (a change may even arrive first: 0).
    const fromCommit = [...receivedAt].map(([id, at]) => Math.max(0, at - committedAt.get(id)!)).sort((a, b) => a - b);
    const fromSend = [...receivedAt].map(([id, at]) => at - sentAt.get(id)!).sort((a, b) => a - b);
    const pick = (values: number[], quantile: number) => values[Math.floor(values.length * quantile)];
    return { rate: achieved, p50: pick(fromCommit, 0.5), p99: pick(fromCommit, 0.99), sendP99: pick(fromSend, 0.99), rows: fromCommit.length };
  } finally {
    await admin.end();
    await dozen.stop();
    await mariadb.stop();
  }
}

/**
 * Publish rate: one WebSocket publisher sends PUBLISH_COUNT messages into one room as fast as it
 * can, 10 subscribers; messages/s until every subscriber has them all. What each publish costs
 * the hub (numbering, history, and keeping the room's position and history across restarts).
 */
const PUBLISH_COUNT = 20_000;
/** CPU time (user + system) a process has used, from /proc (Linux): unlike wall time, barely moved by other load on the machine. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

async function publishRate(): Promise<{ rate: number; cpuPerThousand: number }> {
  const dozen = await startDozen({ env: { DOZEN_MODULES: 'broadcast', DOZEN_LOG_LEVEL: 'warn' } });
  try {
    let received = 0;
    const target: Target = {
      name: 'dozen hub',
      url: dozen.url.replace('http', 'ws') + '/ws',
      headers: { authorization: `Bearer ${dozen.token}` },
      join: (socket) => socket.send(JSON.stringify({ type: 'join', room: 'rate' })),
      publish: (socket, payload) => socket.send(JSON.stringify({ type: 'publish', room: 'rate', data: payload })),
    };
    const subscribers = await openAll(target, 10, () => received++);
    const [publisher] = await openAll({ ...target, join: () => undefined }, 1, () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const cpuBefore = cpuMs(dozen.child.pid!);
    const started = performance.now();
    for (let index = 0; index < PUBLISH_COUNT; index++) target.publish(publisher, { t: 0, i: index, pad: PAD });
    await waitFor('every published message', async () => received >= PUBLISH_COUNT * 10, 120_000, 5);
    const rate = PUBLISH_COUNT / ((performance.now() - started) / 1000);
    // Time for the last batch to be saved, so its cost is counted.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const cpu = cpuMs(dozen.child.pid!) - cpuBefore;
    for (const socket of [...subscribers, publisher]) socket.terminate();
    return { rate, cpuPerThousand: (cpu * 1000) / PUBLISH_COUNT };
  } finally {
    await dozen.stop();
  }
}

function publishLine(runs: { rate: number; cpuPerThousand: number }[]): string {
  const rate = Math.round(Math.max(...runs.map((run) => run.rate)));
  const cpu = Math.min(...runs.map((run) => run.cpuPerThousand)).toFixed(1);
  return `publish: ${PUBLISH_COUNT} messages from one WebSocket publisher into one room, 10 subscribers: ${rate} messages/s, dozen CPU ${cpu} ms per 1,000 messages (best of ${runs.length})`;
}

/** Best of `rounds` (the machine is shared, so single runs are noisy); plain and dozen alternate. */
function best(results: FanOut[]): FanOut {
  return { deliveriesPerSecond: Math.max(...results.map((result) => result.deliveriesPerSecond)), p50: Math.min(...results.map((result) => result.p50)), p99: Math.min(...results.map((result) => result.p99)) };
}

async function main(): Promise<void> {
  // `node dist/bench/broadcast.js publish cdc` runs only those parts (the fan-out needs an idle machine).
  const parts = process.argv.slice(2);
  if (parts.length) {
    if (parts.includes('publish')) console.log(publishLine([await publishRate(), await publishRate(), await publishRate()]));
    if (parts.includes('cdc')) {
      const change = await cdc();
      console.log(`CDC: ${change.rows} inserts at ${Math.round(change.rate)}/s -> subscriber: commit->client p50 ${change.p50.toFixed(1)} ms, p99 ${change.p99.toFixed(1)} ms`);
    }
    process.exit(0);
  }
  const plainRuns: FanOut[] = [];
  const hubRuns: FanOut[] = [];
  const rounds = 2;
  for (let round = 0; round < rounds; round++) {
    const plain = await plainWsServer();
    plainRuns.push(
      await fanOut({
        name: 'plain ws loop',
        url: `ws://127.0.0.1:${plain.port}`,
        headers: {},
        join: () => undefined,
        publish: (socket, payload) => socket.send(JSON.stringify(payload)),
      }),
    );
    plain.child.kill();
    const dozen = await startDozen({ env: { DOZEN_MODULES: 'broadcast', DOZEN_LOG_LEVEL: 'warn' } });
    hubRuns.push(
      await fanOut({
        name: 'dozen hub',
        url: dozen.url.replace('http', 'ws') + '/ws',
        headers: { authorization: `Bearer ${dozen.token}` },
        join: (socket) => socket.send(JSON.stringify({ type: 'join', room: 'bench' })),
        publish: (socket, payload) => socket.send(JSON.stringify({ type: 'publish', room: 'bench', data: payload })),
      }),
    );
    await dozen.stop();
  }
  const reference = best(plainRuns);
  const hub = best(hubRuns);
  const rates = [await publishRate(), await publishRate(), await publishRate()];
  const change = await cdc();

  const row = (name: string, result: FanOut) => `| ${name.padEnd(14)} | ${Math.round(result.deliveriesPerSecond).toString().padStart(14)} | ${result.p50.toFixed(1).padStart(8)} | ${result.p99.toFixed(1).padStart(8)} |`;
  console.log(`\nfan-out: ${SUBSCRIBERS} subscribers, one room, 200-byte messages (burst of ${BURST} for throughput; ${LATENCY_RATE}/s for latency; best of ${rounds} alternating rounds)\n`);
  console.log('| server         | deliveries/s   | p50 ms   | p99 ms   |');
  console.log('|----------------|----------------|----------|----------|');
  console.log(row('plain ws loop', reference));
  console.log(row('dozen hub', hub));
  console.log(`\nratio dozen / plain ws: throughput ${(hub.deliveriesPerSecond / reference.deliveriesPerSecond).toFixed(2)}, p99 latency ${(hub.p99 / reference.p99).toFixed(2)}`);
  console.log(`\n${publishLine(rates)}`);
  console.log(`\nCDC: ${change.rows} inserts at ${Math.round(change.rate)}/s into MariaDB -> subscriber: commit->client p50 ${change.p50.toFixed(1)} ms, p99 ${change.p99.toFixed(1)} ms; INSERT sent->client p99 ${change.sendP99.toFixed(1)} ms`);
  process.exit(0);
}

main().catch((error: Error) => {
  console.error(`bench:broadcast failed: ${error.stack}`);
  process.exit(1);
});
