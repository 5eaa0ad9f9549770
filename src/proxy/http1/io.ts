/**
 * The seam between the HTTP/1.1 engine (client and backend connections, the
 * exchange, WebSocket pass-through) and how it parses and moves bytes. Two
 * implementations, one per engine:
 *
 * - native (native-io.ts, the fast engine): Node's own llhttp reached through
 *   `_http_common`, reading client sockets straight from libuv, and direct
 *   writes through `process.binding('stream_wrap')`.
 * - portable (portable/portable-io.ts): the same llhttp compiled to
 *   WebAssembly (the build undici ships), fed the Buffers of 'data' events,
 *   writes through `socket.write`; public APIs only.
 *
 * Nothing here imports either: a module that only needs the types loads no
 * Node internal.
 */
import type { Server, Socket } from 'node:net';
import type { TlsOptions } from 'node:tls';
import type { ServedCertificates } from '../tls/served-certificates.js';

/**
 * What a parser's owner (a client or a backend connection) hears from it:
 * llhttp's callbacks, passed on with the parser as `this` dropped.
 */
export interface ParserOwner {
  /** A new message's first byte was read (a request's headers timeout starts here; a response after the one asked for is out of step). */
  messageBegin?(): void;
  /** A whole head, however many reads it spanned. `method` (undefined: not an HTTP method) and `url` are for requests; `status` and `reason` for responses. Returns SKIP_BODY or 0. */
  headersComplete(
    versionMajor: number,
    versionMinor: number,
    headers: string[],
    method: string | undefined,
    url: string,
    status: number | undefined,
    reason: string | undefined,
    upgrade: boolean,
    keepAlive: boolean,
  ): number;
  body(chunk: Buffer): void;
  messageComplete(): void;
  /** After each read of a client socket, with the bytes parsed or the parse error, and the bytes read. */
  executed(result: number | ParseError, bytes?: Buffer): void;
}

/** A strict llhttp parser (no lenient flags, heads up to 16 KiB), either build. */
export interface Http1Parser {
  /** Parses `data`: the bytes parsed (up to the end of an Upgrade head), or the parse error. */
  execute(data: Buffer): number | ParseError;
  /** Signals end of input (a body delimited by the connection closing ends here). */
  finish(): ParseError | undefined;
  free(): void;
  /**
   * Whether the owner hears `messageComplete` for the message being read.
   * Called from `headersComplete` by an owner that knows the message ends
   * with its head (a request without a body), which saves a call per request.
   */
  tellComplete(tell: boolean): void;
}

export interface ParseError extends Error {
  /** llhttp's error name: HPE_INVALID_METHOD, HPE_HEADER_OVERFLOW, ... */
  code: string;
  bytesParsed: number;
  reason?: string;
}

export type ParserKind = 'request' | 'response';

/** What onHeadersComplete returns to tell a response parser that no body follows (answer to HEAD). */
export const SKIP_BODY = 1;

/** Limit on a request or response head, as Node's default (16 KiB): more is HPE_HEADER_OVERFLOW. */
export const MAX_HEAD_BYTES = 16 * 1024;

/** How an engine parses, reads and writes. */
export interface Http1Io {
  createParser(kind: ParserKind, owner: ParserOwner): Http1Parser;
  /** Starts feeding a client socket's reads to `parser`; `owner.executed` hears each. */
  readClient(socket: Socket, parser: Http1Parser, owner: ParserOwner): void;
  /** Stops feeding it (the socket closed, or leaves HTTP: an Upgrade). `handOver`: someone else reads it from here. */
  stopReadingClient(socket: Socket, parser: Http1Parser, handOver: boolean): void;
  /** Stops or starts reading a socket (the kernel's buffer fills and TCP pushes back on the peer). */
  setReading(socket: Socket, reading: boolean): void;
  /** Writes `data` (a string as latin1); false when the kernel did not take it all (then 'drain' follows). */
  write(socket: Socket, data: Buffer | string): boolean;
  /** Bytes written to `socket` wait for the kernel ('drain' follows). */
  writesWaiting(socket: Socket): boolean;
  /** Terminates TLS itself, or returns null (or is null): node:tls does (tls/tls-server.ts). */
  terminateTls: ((termination: TlsTermination) => TlsAcceptor | null) | null;
}

/** What a TLS listener asks of an engine that terminates TLS itself (the fast one: tls/lean-tls.ts). */
export interface TlsTermination {
  /** The listener's TLS options (tls/tls-server.ts): their SNICallback and ALPNCallback choose. */
  options: TlsOptions;
  certificates: ServedCertificates;
  ocspStapling: boolean;
  handshakeTimeout: number;
  /** A connection whose handshake is done, as a net.Socket over its TLS stream (`encrypted`, `alpnProtocol` set). */
  secure(socket: Socket): void;
  /** Whether one more connection may be taken, with `handshakes` in progress (proxy.maxConnections); else it is closed at once. */
  admits(handshakes: number): boolean;
  /** Told of each connection closed for that. */
  dropped: (() => void) | null;
}

/** Terminates TLS on a listening net.Server's connections. */
export interface TlsAcceptor {
  /** Takes over the server's connections; called as it starts listening. */
  attach(server: Server): void;
  /** Closes the connections still in their handshake. */
  close(): void;
}
