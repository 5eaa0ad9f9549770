import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { fromBench } from './bench-env.js';
import { requireBinary } from './debian.js';
import { freePort, GiveUp, waitFor } from './ports.js';

export interface MariaDb {
  port: number;
  /** root on 127.0.0.1, no password: `mysql://root@127.0.0.1:<port>/` */
  url: string;
  serverId: number;
  connect(database?: string): Promise<mysql.Connection>;
  /** Stops and starts the same server (same datadir, port and binlog), e.g. to test reconnects. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A throwaway MariaDB (Debian's mariadb-server) on a free port with its own
 * datadir and the binlog on as a CDC reader needs it: ROW format, FULL row
 * image, a unique server_id. Uses the bench's (DOZEN_TEST_MYSQL_URL) unless
 * `fresh` asks for one of its own (a test that restarts or breaks the server).
 */
export async function startMariaDb(options: { fresh?: boolean } = {}): Promise<MariaDb> {
  const given = options.fresh ? undefined : fromBench('DOZEN_TEST_MYSQL_URL', 'MariaDB');
  if (given) {
    const url = new URL(given);
    return handle(Number(url.port), given, Number(process.env.DOZEN_TEST_MYSQL_SERVER_ID ?? 0), null);
  }
  const mariadbd = requireBinary('mariadbd', 'mariadb-server');
  const installDb = requireBinary('mariadb-install-db', 'mariadb-server');
  const datadir = mkdtempSync(join(tmpdir(), 'dozen-mariadb-'));
  const asRoot = process.getuid?.() === 0;
  const install = spawnSync(installDb, ['--no-defaults', `--datadir=${datadir}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...(asRoot ? ['--user=root'] : [])], {
    encoding: 'utf8',
  });
  if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stderr.slice(-500)}`);
  const port = await freePort();
  const serverId = 1000 + Math.floor(Math.random() * 1_000_000);
  const socket = join(datadir, 'mysqld.sock');
  const args = [
    '--no-defaults',
    `--datadir=${datadir}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--socket=${socket}`,
    `--pid-file=${join(datadir, 'mysqld.pid')}`,
    `--log-error=${join(datadir, 'error.log')}`,
    `--log-bin=${join(datadir, 'binlog')}`,
    '--binlog-format=ROW',
    '--binlog-row-image=FULL',
    `--server-id=${serverId}`,
    '--innodb-buffer-pool-size=64M',
    '--innodb-log-file-size=16M',
    '--max-connections=200',
    ...(asRoot ? ['--user=root'] : []),
  ];
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn(mariadbd, args, { stdio: 'ignore' });
    const started = child;
    let exited = false;
    started.once('exit', () => (exited = true));
    await waitFor(
      `MariaDB on port ${port}`,
      async () => {
        if (exited) throw new GiveUp(`mariadbd exited: ${readFileSync(join(datadir, 'error.log'), 'utf8').split('\n').slice(-6).join(' | ')}`);
        const connection = await mysql.createConnection({ socketPath: socket, user: 'root' });
        await connection.end();
        return true;
      },
      60_000,
      200,
    );
  };
  const stopServer = async () => {
    const running = child;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000))]);
    if (running.exitCode === null) running.kill('SIGKILL');
  };
  await start();
  // install-db creates root@localhost only; tests and dozen connect over TCP to 127.0.0.1.
  const admin = await mysql.createConnection({ socketPath: socket, user: 'root' });
  await admin.query("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''");
  await admin.query("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION");
  await admin.end();
  return handle(port, `mysql://root@127.0.0.1:${port}/`, serverId, {
    restart: async () => {
      await stopServer();
      await start();
    },
    stop: async () => {
      await stopServer();
      rmSync(datadir, { recursive: true, force: true });
    },
  });
}

function handle(port: number, url: string, serverId: number, own: { restart(): Promise<void>; stop(): Promise<void> } | null): MariaDb {
  return {
    port,
    url,
    serverId,
    connect: (database) => mysql.createConnection({ host: '127.0.0.1', port, user: 'root', database, multipleStatements: true }),
    restart: async () => {
      if (!own) throw new Error('this MariaDB was given by DOZEN_TEST_MYSQL_URL; the bench cannot restart it');
      await own.restart();
    },
    stop: async () => own?.stop(),
  };
}
