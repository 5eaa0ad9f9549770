import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import type { DozenProcess } from '../support/dozen-process.js';
import type { Pebble } from '../support/pebble.js';
import { requireBinary } from '../support/debian.js';
import { waitFor } from '../support/ports.js';

const run = promisify(execFile);

/** One entry of GET /proxy/certificates: what this host serves. */
export interface CertificateRow {
  domain: string;
  issuer: string | null;
  notAfter: string | null;
  source: string;
  lastError: string | null;
}

/** One domain of GET /proxy/acme. */
export interface AcmeDomain {
  domain: string;
  notBefore: string | null;
  notAfter: string | null;
  issuedBy: string | null;
  failures: number;
  lastError: string | null;
  nextAttemptAt: string | null;
}

export interface AcmeStatus {
  ordering: boolean;
  wanted: string[];
  lockHolder: string | null;
  domains: AcmeDomain[];
}

/** The env that turns ACME on against `pebble` (dozen trusts pebble's listener through NODE_EXTRA_CA_CERTS, as with any private CA). */
export function acmeEnv(pebble: Pebble, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_EXTRA_CA_CERTS: pebble.listenerCaFile,
    DOZEN_PROXY_TLS_ACME_DIRECTORY: pebble.directory,
    DOZEN_PROXY_TLS_ACME_EMAIL: 'ops@example.net',
    // Fast retries, so a test sees a failure retried within seconds.
    DOZEN_PROXY_TLS_ACME_RETRY_FIRST_SECONDS: '1',
    DOZEN_PROXY_TLS_ACME_RETRY_MAX_SECONDS: '4',
    ...extra,
  };
}

export async function certificates(dozen: DozenProcess): Promise<CertificateRow[]> {
  const response = await dozen.api('/proxy/certificates');
  if (response.status !== 200) throw new Error(`GET /proxy/certificates: ${response.status} ${await response.text()}`);
  return (await response.json()) as CertificateRow[];
}

export async function acmeStatus(dozen: DozenProcess): Promise<AcmeStatus> {
  const response = await dozen.api('/proxy/acme');
  if (response.status !== 200) throw new Error(`GET /proxy/acme: ${response.status} ${await response.text()}`);
  return (await response.json()) as AcmeStatus;
}

/**
 * Waits until each of `domains` has an ACME certificate without error in the database (GET /proxy/acme)
 * and `dozen`'s TLS listener on `tlsPort` serves it (a handshake with that SNI, checked against `caPem`).
 */
export async function waitForCertificates(dozen: DozenProcess, domains: string[], tlsPort: number, caPem: string, timeoutMs = 60_000): Promise<AcmeDomain[]> {
  try {
    return await waitFor(`ACME certificates for ${domains.join(', ')}`, async () => {
      const rows = (await acmeStatus(dozen)).domains.filter((row) => domains.includes(row.domain) && row.notAfter && !row.lastError);
      if (rows.length !== domains.length) return undefined;
      for (const domain of domains) if ((await peerCertificate(tlsPort, domain, caPem)).names !== `DNS:${domain}`) return undefined;
      return rows;
    }, timeoutMs, 200);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- GET /proxy/acme ---\n${JSON.stringify(await acmeStatus(dozen).catch(() => null))}\n--- dozen output ---\n${dozen.logs().slice(-6000)}`);
  }
}

/** Registers an instance of `app` serving `domains` at `port` and keeps it passing; returns a stop function. */
export async function registerApp(dozen: DozenProcess, app: string, port: number, domains: string[]): Promise<() => void> {
  const id = `${app}-1`;
  const response = await dozen.api('/registry/instances', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id, app, address: '127.0.0.1', port, domains, ttl: 30, deregisterAfter: 300 }),
  });
  if (response.status !== 201) throw new Error(`registering ${app}: ${response.status} ${await response.text()}`);
  const beats = setInterval(() => void dozen.api(`/registry/instances/${id}/heartbeat`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' }).catch(() => {}), 5_000);
  beats.unref();
  return () => clearInterval(beats);
}

/** A file holding `pem`, for curl --cacert. */
export function pemFile(pem: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'dozen-acme-test-')), 'root.pem');
  writeFileSync(file, pem);
  return file;
}

/** curl over HTTPS to `domain` at 127.0.0.1:`port` (--resolve), trusting only `caFile`; status and body. */
export async function curlHttps(domain: string, port: number, path: string, caFile: string): Promise<{ status: number; body: string }> {
  const curl = requireBinary('curl', 'curl');
  const { stdout } = await run(curl, ['-sS', '--max-time', '10', '--resolve', `${domain}:${port}:127.0.0.1`, '--cacert', caFile, '-w', '\n%{http_code}', `https://${domain}:${port}${path}`]);
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

/** The certificate a TLS handshake with SNI `servername` gets (verified against `caPem`): its names and serial. */
export function peerCertificate(port: number, servername: string, caPem: string): Promise<{ names: string; serial: string; issuer: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, ca: caPem }, () => {
      const peer = socket.getPeerCertificate();
      socket.end();
      resolve({ names: peer.subjectaltname ?? '', serial: peer.serialNumber, issuer: String(peer.issuer?.CN ?? '') });
    });
    socket.once('error', reject);
  });
}
