/**
 * The floor of bench:proxy:tls: Node terminating TLS exactly as dozen's
 * proxy does (the same options, SNI, session tickets renewed at resumption:
 * tls/tls-server.ts), in as many cluster workers, each connection answered
 * with a fixed response and no proxying. Where this stands against nginx is
 * as close as any proxy built on node:tls can come; what dozen costs beyond
 * it is its own HTTP layer and the trip to the backend.
 *
 *   FLOOR_PORT=8443 FLOOR_CERT=cert.pem FLOOR_KEY=key.pem FLOOR_HOST=app.bench.test FLOOR_WORKERS=2 node dist/bench/tls-floor-server.js
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:tls';
import { ServedCertificates } from '../src/proxy/tls/served-certificates.js';
import { runTlsServer, tlsServerOptions } from '../src/proxy/tls/tls-server.js';

const RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\nconnection: close\r\n\r\nHello, world!');

if (cluster.isPrimary) {
  for (let index = 0; index < Number(process.env.FLOOR_WORKERS ?? 1); index++) cluster.fork();
  cluster.on('exit', () => process.exit(1));
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exit(0);
  });
} else {
  const host = process.env.FLOOR_HOST!;
  const certificates = new ServedCertificates(host);
  certificates.apply({ kind: 'put', entry: { domains: [host], certPem: readFileSync(process.env.FLOOR_CERT!, 'utf8'), keyPem: readFileSync(process.env.FLOOR_KEY!, 'utf8'), source: 'files' } });
  // Every worker seals tickets with the same keys, as dozen's primary hands them out.
  certificates.apply({ kind: 'ticket-keys', keys: Buffer.alloc(48, 7).toString('base64') });
  const server = createServer({ ...tlsServerOptions(certificates), noDelay: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    socket.once('data', () => socket.end(RESPONSE));
  });
  runTlsServer(server, certificates, false);
  // SO_REUSEPORT where this Node has it (22.12 on), as dozen's proxy.accept auto; else the cluster's round robin, as dozen's.
  server.listen({ host: '127.0.0.1', port: Number(process.env.FLOOR_PORT), reusePort: true });
}
