import type { ServerFacts } from './binlog.reader.js';

/**
 * What a row-change reader needs from the server, each problem as one
 * sentence naming the setting and the fix. Empty when all is well.
 */
export function serverProblems(facts: ServerFacts): string[] {
  const user = facts.account;
  const problems: string[] = [];
  if (facts.logBin !== 'ON') problems.push(`log_bin is ${facts.logBin}: start the server with log_bin (e.g. log-bin=mysql-bin in my.cnf) and restart it`);
  if (facts.binlogFormat !== 'ROW') problems.push(`binlog_format is ${facts.binlogFormat}: set binlog_format=ROW (SET GLOBAL binlog_format='ROW' and in my.cnf)`);
  if (facts.binlogRowImage !== 'FULL') problems.push(`binlog_row_image is ${facts.binlogRowImage}: set binlog_row_image=FULL (SET GLOBAL binlog_row_image='FULL' and in my.cnf)`);
  const grants = facts.grants.join('\n').toUpperCase();
  const all = /GRANT ALL PRIVILEGES ON \*\.\*/.test(grants);
  const missing = [
    // Not REPLICATION SLAVE ADMIN (MariaDB 10.5's right to run START SLAVE), which does not allow reading the binlog.
    ['REPLICATION SLAVE', /REPLICATION (SLAVE|REPLICA)(?! ADMIN)/],
    ['REPLICATION CLIENT', /REPLICATION CLIENT|BINLOG MONITOR/],
    ['SELECT', /\bSELECT\b/],
  ]
    .filter(([, pattern]) => !all && !(pattern as RegExp).test(grants))
    .map(([name]) => name as string);
  if (missing.length) problems.push(`user ${user} lacks ${missing.join(', ')}: GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO ${user}`);
  return problems;
}

/** Not a reason to stop, but worth saying: without FULL row metadata, column names are read from INFORMATION_SCHEMA and can lag an ALTER TABLE. */
export function serverAdvice(facts: ServerFacts): string | null {
  if (facts.binlogRowMetadata === null || facts.binlogRowMetadata === 'FULL') return null;
  return `binlog_row_metadata is ${facts.binlogRowMetadata}: set binlog_row_metadata=FULL so column names stay right when ALTER TABLE runs while changes are read`;
}

/** Why connecting failed, with what to check when the server refused the login (ER_ACCESS_DENIED_ERROR, 1045). */
export function connectProblem(source: string, url: string, error: Error & { errno?: number }): string {
  const reached = `cannot reach MySQL at ${source}: ${error.message}`;
  if (error.errno !== 1045) return reached;
  const user = decodeURIComponent(new URL(url).username || 'root');
  return (
    `${reached}: check broadcast.binlog.password (or the password in broadcast.binlog.url), and that the server has an account ` +
    `'${user}'@<the address dozen connects from> with that password (SELECT user, host FROM mysql.user WHERE user = '${user}')`
  );
}
