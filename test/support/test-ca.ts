/**
 * A tiny certificate authority for TLS tests, made with the openssl CLI in a
 * temporary directory: a root, and leaf certificates for any domains (SANs),
 * optionally naming an OCSP responder. EC P-256 keys: quick to make.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  certFile: string;
  keyFile: string;
}

export interface TestCa {
  dir: string;
  /** The root certificate, PEM, and its file (for curl --cacert, openssl -CAfile). */
  caPem: string;
  caFile: string;
  caKeyFile: string;
  /** A leaf for `domains` (the first is the subject CN), valid `days` from now (default 30, at least 1). */
  issue(domains: string[], options?: { days?: number; ocspUrl?: string; name?: string }): IssuedCertificate;
  remove(): void;
}

let serial = Date.now();

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeTestCa(name = 'dozen test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'dozen-test-ca-'));
  const caKeyFile = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.pem');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', caKeyFile], dir);
  openssl(['req', '-x509', '-new', '-key', caKeyFile, '-sha256', '-days', '3650', '-subj', `/O=dozen tests/CN=${name}`, '-out', caFile], dir);
  return {
    dir,
    caPem: readFileSync(caFile, 'utf8'),
    caFile,
    caKeyFile,
    issue(domains, options = {}) {
      const base = join(dir, options.name ?? `leaf-${++serial}`);
      const keyFile = `${base}.key`;
      const certFile = `${base}.pem`;
      const extFile = `${base}.ext`;
      openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${base}.ec`], dir);
      openssl(['pkcs8', '-topk8', '-nocrypt', '-in', `${base}.ec`, '-out', keyFile], dir);
      openssl(['req', '-new', '-key', keyFile, '-subj', `/CN=${domains[0]}`, '-out', `${base}.csr`], dir);
      const lines = [`subjectAltName=${domains.map((domain) => (/^\d+\.\d+\.\d+\.\d+$/.test(domain) ? `IP:${domain}` : `DNS:${domain}`)).join(',')}`, 'basicConstraints=CA:FALSE', 'keyUsage=digitalSignature', 'extendedKeyUsage=serverAuth'];
      if (options.ocspUrl) lines.push(`authorityInfoAccess=OCSP;URI:${options.ocspUrl}`);
      writeFileSync(extFile, `${lines.join('\n')}\n`);
      const days = options.days ?? 30;
      if (days < 1) throw new Error('test-ca issues certificates valid for at least one day');
      openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', caFile, '-CAkey', caKeyFile, '-set_serial', String(++serial), '-days', String(days), '-sha256', '-extfile', extFile, '-out', certFile], dir);
      return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8'), certFile, keyFile };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
