/**
 * Writes straight to a socket's libuv stream, as net.Socket's own Writable
 * does underneath, for the two writes every proxied request makes (its head
 * to the backend, a whole response to the client).
 *
 * Why: a write through Writable allocates its state and callback, and
 * schedules a nextTick for its bookkeeping, which makes Node enter
 * JavaScript once more after every callback; by callgrind that is about
 * 2,000-3,000 instructions per request (README, Proxy figures).
 *
 * When Writable has anything queued, or a direct write of this socket is
 * still in libuv, the write goes through Writable: libuv sends a stream's
 * writes in the order they were made, so bytes never overtake each other.
 * `WriteWrap` comes from `process.binding('stream_wrap')` (Node's request
 * object for stream writes; documented as deprecated, silent but with
 * --pending-deprecation, kept up to Node 24); without it, or with pending
 * deprecations on (it would warn then), every write goes through Writable.
 *
 * TLS sockets are always written through Writable. Their handle (TLSWrap)
 * takes one write at a time: a second one before the first completed aborts
 * the whole process (`Assertion failed: !current_write_`), which a client
 * could cause with a pipelined request after one answered directly. And its
 * shutdown does not wait for a write in progress, so end() after a direct
 * write sent the FIN before TLS's close_notify (RFC 8446 section 6.1: a
 * client reads "unexpected eof", a truncation). Writable keeps to both.
 */
import type { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';

interface StreamHandle {
  writeBuffer(req: WriteRequest, data: Buffer): number;
  writeLatin1String(req: WriteRequest, data: string): number;
}

interface WriteRequest {
  handle: StreamHandle;
  oncomplete: (this: WriteRequest, status: number) => void;
  /** Kept alive while libuv still writes from it. */
  buffer: Buffer | null;
  socket: DirectSocket;
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteRequest;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

type DirectSocket = Socket & { _handle: StreamHandle | null; encrypted?: boolean; [PENDING]?: number };

const PENDING = Symbol('dozen.directWritesPending');

/**
 * Node was started with pending deprecations on, where `process.binding`
 * warns (DEP0111) and `--throw-deprecation` makes that fatal. Node has no API
 * to ask, so this reads where the flag can come from: the command line
 * (`process.execArgv`, which cluster workers inherit), NODE_OPTIONS, and
 * NODE_PENDING_DEPRECATION=1 (Node's own environment switch, not dozen's
 * config). Then direct writes are off and every write goes through Writable.
 */
export function pendingDeprecationsOn(): boolean {
  const environment = process.env;
  return process.execArgv.includes('--pending-deprecation') || /(^|\s)--pending-deprecation(\s|$)/.test(environment.NODE_OPTIONS ?? '') || environment.NODE_PENDING_DEPRECATION === '1';
}

function loadBinding(): StreamWrapBinding | null {
  if (pendingDeprecationsOn()) return null;
  try {
    const binding = (process as unknown as { binding(name: string): StreamWrapBinding }).binding('stream_wrap');
    return typeof binding?.WriteWrap === 'function' && binding.streamBaseState instanceof Int32Array ? binding : null;
  } catch {
    return null;
  }
}

const binding = loadBinding();

/**
 * Writes `data` (a string as latin1); false when the kernel did not take it
 * all at once, in which case the socket emits 'drain' once it has.
 */
export function writeDirect(socket: Socket, data: Buffer | string): boolean {
  const direct = socket as DirectSocket;
  const handle = direct._handle;
  if (binding === null || handle === null || direct.encrypted === true || direct.destroyed || direct.connecting || direct.writableLength !== 0 || direct.writableCorked !== 0 || (direct[PENDING] ?? 0) !== 0) {
    return typeof data === 'string' ? socket.write(data, 'latin1') : socket.write(data);
  }
  const req = new binding.WriteWrap();
  req.handle = handle;
  req.oncomplete = onComplete;
  req.buffer = null;
  req.socket = direct;
  const status = typeof data === 'string' ? handle.writeLatin1String(req, data) : handle.writeBuffer(req, data);
  if (status !== 0) {
    socket.destroy(writeError(status));
    return false;
  }
  if (binding.streamBaseState[binding.kLastWriteWasAsync] === 0) return true;
  // libuv writes the rest when the socket can take it (a string was copied already).
  if (typeof data !== 'string') req.buffer = data;
  direct[PENDING] = (direct[PENDING] ?? 0) + 1;
  return false;
}

/** Bytes written to `socket` wait for the kernel: a direct write is in libuv, or Writable asked its writer to wait for 'drain' (either way 'drain' follows). */
export function writesWaiting(socket: Socket): boolean {
  return ((socket as DirectSocket)[PENDING] ?? 0) !== 0 || socket.writableNeedDrain;
}

function onComplete(this: WriteRequest, status: number): void {
  const socket = this.socket;
  this.buffer = null;
  socket[PENDING] = (socket[PENDING] ?? 1) - 1;
  if (socket.destroyed) return;
  // After end(), a peer that left before taking the whole answer (EPIPE, ECONNRESET) only ends what was ending:
  // no Error object and 'error' event for it.
  if (status < 0) return void (socket.writableEnded ? socket.destroy() : socket.destroy(writeError(status)));
  if (socket[PENDING] === 0) socket.emit('drain');
}

function writeError(status: number): Error {
  const code = getSystemErrorName(status);
  return Object.assign(new Error(`write ${code}`), { code, errno: status, syscall: 'write' });
}
