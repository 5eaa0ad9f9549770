import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { fromBench } from './bench-env.js';
import { requireBinary } from './debian.js';
import { freePorts, GiveUp, waitFor } from './ports.js';

/**
 * Let's Encrypt's ACME test server, from Debian's `pebble` package (2.4.0),
 * with its mock DNS `pebble-challtestsrv` from the same package. Both listen
 * on loopback only. Pebble's own HTTPS listener uses a certificate the bench
 * makes with openssl (`listenerCaFile`: give it to dozen as
 * NODE_EXTRA_CA_CERTS); the root that signs the certificates it issues is
 * read from its management API (`rootCaPem`) and is new at every start.
 */
export interface Pebble {
  /** The ACME directory URL (`https://127.0.0.1:<port>/dir`). */
  directory: string;
  /** PEM file of the certificate of pebble's own listener (self-signed by the bench). */
  listenerCaFile: string;
  /** PEM of the root that signs the certificates pebble issues; a client trusts it to check them. */
  rootCaPem: string;
  /** The port pebble sends HTTP-01 validation requests to: the proxy's plain listener must be on it. */
  httpPort: number;
  /** The port pebble sends TLS-ALPN-01 validation handshakes to: the proxy's TLS listener must be on it for those. */
  tlsPort: number;
  /** The mock DNS (pebble-challtestsrv): everything resolves to 127.0.0.1 unless told otherwise. */
  dns: MockDns;
  /** Stops what this call started; the bench's pebble is left to the bench. */
  stop(): Promise<void>;
}

export interface MockDns {
  /** `127.0.0.1:<port>` (UDP and TCP) */
  address: string;
  /** The management API (`http://127.0.0.1:<port>`). */
  management: string;
  /** Answers SERVFAIL for `host`, so a CA cannot reach it. */
  fail(host: string): Promise<void>;
  /** Answers `host` normally again. */
  heal(host: string): Promise<void>;
}

export interface PebbleOptions {
  /** Lifetime of the certificates pebble issues (its config `certificateValidityPeriod`); default pebble's own (about 5 years). */
  certificateValiditySeconds?: number;
  /** Require external account binding, with this one key (`hmacKey` base64url, as CAs hand them out). */
  eab?: { kid: string; hmacKey: string };
}

/** What the bench hands to test files in DOZEN_TEST_ACME_PEBBLE (JSON). */
interface PebbleFromBench {
  directory: string;
  listenerCaFile: string;
  rootCaPem: string;
  httpPort: number;
  tlsPort: number;
  dnsAddress: string;
  dnsManagement: string;
}

/**
 * The bench's pebble (DOZEN_TEST_ACME_PEBBLE) when it started one and no
 * special options are asked for; otherwise a pebble of this file's own,
 * using the bench's mock DNS when there is one.
 */
export async function startPebble(options: PebbleOptions = {}): Promise<Pebble> {
  const given = fromBench('DOZEN_TEST_ACME_PEBBLE', 'pebble (ACME test server)');
  const bench = given ? (JSON.parse(given) as PebbleFromBench) : null;
  if (bench && options.certificateValiditySeconds === undefined && !options.eab) {
    return {
      directory: bench.directory, listenerCaFile: bench.listenerCaFile, rootCaPem: bench.rootCaPem, httpPort: bench.httpPort, tlsPort: bench.tlsPort,
      dns: mockDns(bench.dnsAddress, bench.dnsManagement), stop: async () => {},
    };
  }
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const stopOne of stops.reverse()) await stopOne();
  };
  try {
    let dns: MockDns;
    if (bench) dns = mockDns(bench.dnsAddress, bench.dnsManagement);
    else {
      const started = await startMockDns();
      stops.push(started.stop);
      dns = started.dns;
    }
    const pebble = await startPebbleServer(dns, options);
    stops.push(pebble.stop);
    return { ...pebble, dns, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** For the bench: pebble and its mock DNS, described in the JSON test files read from DOZEN_TEST_ACME_PEBBLE. */
export async function startPebbleForBench(): Promise<{ json: string; describe: string; stop(): Promise<void> }> {
  const { dns, stop: stopDns } = await startMockDns();
  try {
    const pebble = await startPebbleServer(dns, {});
    const json: PebbleFromBench = {
      directory: pebble.directory, listenerCaFile: pebble.listenerCaFile, rootCaPem: pebble.rootCaPem, httpPort: pebble.httpPort, tlsPort: pebble.tlsPort,
      dnsAddress: dns.address, dnsManagement: dns.management,
    };
    return {
      json: JSON.stringify(json),
      describe: `pebble ${pebble.directory} (HTTP-01 to port ${pebble.httpPort}, TLS-ALPN-01 to port ${pebble.tlsPort}, mock DNS ${dns.address})`,
      stop: async () => {
        await pebble.stop();
        await stopDns();
      },
    };
  } catch (error) {
    await stopDns();
    throw error;
  }
}

async function startMockDns(): Promise<{ dns: MockDns; stop(): Promise<void> }> {
  const binary = requireBinary('pebble-challtestsrv', 'pebble');
  const [dnsPort, managementPort] = await freePorts(2);
  const address = `127.0.0.1:${dnsPort}`;
  const management = `http://127.0.0.1:${managementPort}`;
  // Only the DNS server and its management API; no AAAA answers, so a CA reaches the IPv4 loopback where the proxy listens.
  const child = spawn(binary, ['-dns01', address, '-management', `127.0.0.1:${managementPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = collect(child);
  const stop = () => stopChild(child);
  try {
    // The management API answers once the servers are up; an unknown path gets its 404.
    await waitFor(`pebble-challtestsrv on ${management}`, async () => {
      if (child.exitCode !== null) throw new GiveUp(`pebble-challtestsrv exited with ${child.exitCode}: ${output().slice(-800)}`);
      return (await fetch(`${management}/`)).status > 0;
    }, 30_000, 100);
  } catch (error) {
    await stop();
    throw error;
  }
  return { dns: mockDns(address, management), stop };
}

function mockDns(address: string, management: string): MockDns {
  const post = async (path: string, body: object) => {
    const response = await fetch(management + path, { method: 'POST', body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`pebble-challtestsrv ${path}: ${response.status} ${await response.text()}`);
  };
  return {
    address,
    management,
    fail: (host) => post('/set-servfail', { host }),
    heal: (host) => post('/clear-servfail', { host }),
  };
}

async function startPebbleServer(dns: MockDns, options: PebbleOptions): Promise<Omit<Pebble, 'dns'>> {
  const binary = requireBinary('pebble', 'pebble');
  const openssl = requireBinary('openssl', 'openssl');
  const dir = mkdtempSync(join(tmpdir(), 'dozen-pebble-'));
  // Distinct: the proxy under test takes httpPort or tlsPort beside pebble's own two.
  const [listenPort, managementPort, httpPort, tlsPort] = await freePorts(4);
  // Pebble's own HTTPS listener: a self-signed certificate for 127.0.0.1, made here (pebble ships none in Debian).
  const listenerCaFile = join(dir, 'listener.pem');
  const keyFile = join(dir, 'listener-key.pem');
  execFileSync(openssl, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=pebble test listener',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', listenerCaFile,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  const config = join(dir, 'pebble-config.json');
  writeFileSync(config, JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${listenPort}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: listenerCaFile,
      privateKey: keyFile,
      httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: Boolean(options.eab),
      ...(options.eab ? { externalAccountMACKeys: { [options.eab.kid]: options.eab.hmacKey } } : {}),
      ...(options.certificateValiditySeconds !== undefined ? { certificateValidityPeriod: options.certificateValiditySeconds } : {}),
    },
  }));
  // NOSLEEP: validate at once instead of after up to 15 s.
  const child = spawn(binary, ['-config', config, '-dnsserver', dns.address, '-strict=false'], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collect(child);
  const stop = async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const agent = new Agent({ connect: { ca: readFileSync(listenerCaFile, 'utf8') } });
  const directory = `https://127.0.0.1:${listenPort}/dir`;
  try {
    await waitFor(`pebble on ${directory}`, async () => {
      if (child.exitCode !== null) throw new GiveUp(`pebble exited with ${child.exitCode}: ${output().slice(-800)}`);
      return (await undiciFetch(directory, { dispatcher: agent })).ok;
    }, 30_000, 100);
    const root = await undiciFetch(`https://127.0.0.1:${managementPort}/roots/0`, { dispatcher: agent });
    if (!root.ok) throw new Error(`pebble's management API: GET /roots/0 answered ${root.status}`);
    const rootCaPem = await root.text();
    await agent.close();
    return { directory, listenerCaFile, rootCaPem, httpPort, tlsPort, stop };
  } catch (error) {
    await agent.close();
    await stop();
    throw error;
  }
}

function collect(child: ChildProcess): () => string {
  let output = '';
  child.stdout!.on('data', (chunk) => (output = (output + chunk).slice(-20_000)));
  child.stderr!.on('data', (chunk) => (output = (output + chunk).slice(-20_000)));
  return () => output;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
