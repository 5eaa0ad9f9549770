/**
 * The fast engine's I/O: Node's llhttp reads client sockets straight from
 * libuv (llhttp.ts), and the per-request writes go straight to libuv
 * (direct-write.ts). Both lean on Node internals; self-test.ts checks them
 * before a worker serves with this.
 */
import type { Socket } from 'node:net';
import { writeDirect, writesWaiting } from './direct-write.js';
import type { Http1Io } from './io.js';
import { leanTlsAcceptor } from '../tls/lean-tls.js';
import { consumeSocket, createParser, setReading, unconsume, type StreamHandle } from './llhttp.js';

function handleOf(socket: Socket): StreamHandle | null {
  return (socket as unknown as { _handle: StreamHandle | null })._handle;
}

export const NATIVE_IO: Http1Io = {
  createParser,
  readClient(socket, parser) {
    consumeSocket(parser, socket);
  },
  stopReadingClient(socket, parser, handOver) {
    unconsume(parser);
    // Reading was stopped while the backend answered an Upgrade; Node's own stream reads the socket from here.
    const handle = handleOf(socket);
    if (handOver && handle) setReading(handle, true);
  },
  setReading(socket, reading) {
    const handle = handleOf(socket);
    if (handle) setReading(handle, reading);
  },
  write: writeDirect,
  writesWaiting,
  terminateTls: leanTlsAcceptor,
};
