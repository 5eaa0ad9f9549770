import type { Connection } from 'mysql2/promise';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import type { MariaDb } from '../support/mariadb.js';
import { waitFor } from '../support/ports.js';

/** A fresh schema with an `orders` table on the bench's MariaDB. */
export async function createShop(mariadb: MariaDb, schema: string): Promise<Connection> {
  const connection = await mariadb.connect();
  // Column names in the binlog itself: rows decode right even when ALTER TABLE races the reader (see README).
  await connection.query("SET GLOBAL binlog_row_metadata = 'FULL'");
  await connection.query(`DROP DATABASE IF EXISTS ${schema}; CREATE DATABASE ${schema}; USE ${schema};
    CREATE TABLE orders (id INT PRIMARY KEY AUTO_INCREMENT, customer VARCHAR(40) NOT NULL, amount DECIMAL(10,2) NOT NULL)`);
  return connection;
}

/** dozen with only broadcast and the binlog source reading `schema` (every schema when empty); waits until the source reads. */
export async function startCdcDozen(mariadb: MariaDb, schema: string, options: { dataDir?: string; serverId?: number; url?: string; waitRunning?: boolean; extraEnv?: Record<string, string> } = {}): Promise<DozenProcess> {
  const dozen = await startDozen({
    dataDir: options.dataDir,
    waitHealthy: false,
    env: {
      DOZEN_MODULES: 'broadcast',
      DOZEN_BROADCAST_BINLOG_ENABLED: 'true',
      DOZEN_BROADCAST_BINLOG_URL: options.url ?? mariadb.url,
      DOZEN_BROADCAST_BINLOG_SERVER_ID: String(options.serverId ?? 50_000 + Math.floor(Math.random() * 100_000)),
      ...(schema ? { DOZEN_BROADCAST_BINLOG_INCLUDE: schema } : {}),
      DOZEN_BROADCAST_HISTORY_MESSAGES: '20000',
      // Settings checked again each second, not every 10 s: the tests of a changed or refused setting wait on it.
      DOZEN_BROADCAST_BINLOG_RECHECK_SECONDS: '1',
      ...options.extraEnv,
    },
  });
  if (options.waitRunning !== false) await binlogRunning(dozen);
  return dozen;
}

export async function binlogRunning(dozen: DozenProcess): Promise<void> {
  await waitFor(
    'the binlog source to read',
    async () => {
      const health = await (await dozen.api('/broadcast/health')).json();
      return health.details?.binlog?.status === 'running';
    },
    20_000,
    100,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${dozen.logs().slice(-3000)}`);
  });
}

export async function brokenHealth(dozen: DozenProcess): Promise<{ status: string; reason: string }> {
  return waitFor(
    'broadcast health to go down',
    async () => {
      const health = await (await dozen.api('/broadcast/health')).json();
      return health.status === 'down' ? health : false;
    },
    20_000,
    100,
  );
}

/** A TCP forwarder on a fixed port, so a client keeps one URL while dozen restarts on another port. */
export async function forwarder(): Promise<{ url: string; target(port: number): void; close(): void }> {
  const { createServer, connect } = await import('node:net');
  let targetPort = 0;
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((incoming) => {
    const outgoing = connect(targetPort, '127.0.0.1');
    for (const socket of [incoming, outgoing]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    incoming.pipe(outgoing).on('close', () => incoming.destroy());
    outgoing.pipe(incoming).on('close', () => outgoing.destroy());
    outgoing.on('close', () => incoming.destroy());
    incoming.on('close', () => outgoing.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    target: (next) => (targetPort = next),
    close: () => {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}
