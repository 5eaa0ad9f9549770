/**
 * The portable engine's I/O, public APIs only: llhttp as WebAssembly
 * (llhttp-wasm.ts) parses the Buffers of a client socket's 'data' events
 * (backend sockets read through net's `onread` either way), and writes go
 * through `socket.write`. Pausing is `socket.pause()`, which on an `onread`
 * socket stops the read at once, and on a plain one once its Readable
 * buffer (one read) is full.
 */
import type { Socket } from 'node:net';
import type { Http1Io, Http1Parser, ParserOwner } from '../http1/io.js';
import { createParser } from './llhttp-wasm.js';

const READER = Symbol('dozen.clientReader');
type ReadSocket = Socket & { [READER]?: (chunk: Buffer) => void };

export const PORTABLE_IO: Http1Io = {
  createParser,
  readClient(socket: ReadSocket, parser: Http1Parser, owner: ParserOwner) {
    const read = (chunk: Buffer) => owner.executed(parser.execute(chunk), chunk);
    socket[READER] = read;
    socket.on('data', read);
  },
  stopReadingClient(socket: ReadSocket) {
    // Left paused on a hand-over: whoever takes the socket resumes it when it listens (pipe does), so no byte is dropped.
    const read = socket[READER];
    if (read) socket.off('data', read);
    socket[READER] = undefined;
  },
  setReading(socket, reading) {
    if (reading) socket.resume();
    else socket.pause();
  },
  write(socket, data) {
    return typeof data === 'string' ? socket.write(data, 'latin1') : socket.write(data);
  },
  writesWaiting(socket) {
    return socket.writableNeedDrain;
  },
  // node:tls terminates TLS (public APIs only).
  terminateTls: null,
};
