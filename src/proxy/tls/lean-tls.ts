/**
 * The fast engine's TLS termination: OpenSSL driven through Node's own
 * TLSWrap on each accepted TCP handle, without the two stream objects
 * node:tls makes per connection (a net.Socket for the TCP connection and a
 * TLSSocket over it, with their listeners, nextTicks and events). Once the
 * handshake is done the connection becomes one net.Socket over the TLSWrap,
 * what a TLSSocket is underneath, and is served exactly as node:tls's are.
 *
 * Why: a new TLS connection cost dozen 1.4-1.9x nginx's CPU, and node:tls's
 * floor (answering without proxying) already 1.05-1.2x; a throwaway floor on
 * TLSWrap alone spent two thirds of node:tls's CPU per connection in the same
 * rounds (docs/proxy.md, "The ninth day").
 *
 * It leans on Node internals: `process.binding('tls_wrap')` (DEP0111, so off
 * when pending deprecations are on), the TLSWrap callbacks node:tls sets
 * (`oncertcb`, `onhandshakedone`, `onerror`, `ALPNCallback`), and a listening
 * net.Server's `_handle.onconnection`. `loadLeanTls` checks them at start;
 * where any is missing the listener uses node:tls (tls-server.ts), the public
 * twin the portable engine always uses, behind the same tests.
 */
import { Socket, type Server } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';
import { pendingDeprecationsOn } from '../http1/direct-write.js';
import type { TlsAcceptor, TlsTermination } from '../http1/io.js';
import { Sweep } from '../http1/sweep.js';
import { OcspStapler } from './ocsp.js';
import { servingContext, type CertificatePems } from './served-certificates.js';

/** Node's native SecureContext (a public SecureContext's `.context`). */
interface NativeContext {
  setTicketKeys(keys: Buffer): void;
  getCertificate(): Buffer | null;
  getIssuer(): Buffer | null;
}

/** The accepted TCP connection's libuv handle. */
interface TcpHandle {
  onread: (this: TcpHandle) => void;
  setNoDelay(on: boolean): number;
  readStop(): number;
  close(callback?: () => void): void;
}

/** Node's TLSWrap, as node:tls drives it for a server connection. */
interface TlsWrap {
  _parent: TcpHandle;
  _secureContext: SecureContext;
  reading: boolean;
  sni_context?: NativeContext;
  onread: (this: TlsWrap) => void;
  onhandshakedone: ((this: TlsWrap) => void) | null;
  onerror: ((this: TlsWrap, error: Error) => void) | null;
  oncertcb: ((this: TlsWrap, info: { servername?: string; OCSPRequest?: boolean }) => void) | null;
  ALPNCallback: ((this: TlsWrap, protocols: Buffer) => number | undefined) | null;
  enableCertCb(): void;
  enableALPNCb(): void;
  certCbDone(): void;
  setOCSPResponse(response: Buffer): void;
  getServername(): string | false;
  getALPNNegotiatedProtocol(): string | false;
  readStart(): number;
  destroySSL(): void;
  [HANDSHAKE]?: Handshake;
  [SOCKET]?: Socket;
}

interface TlsWrapBinding {
  wrap(handle: TcpHandle, context: NativeContext, isServer: boolean, hasActiveWrite: boolean): TlsWrap;
  TLSWrap: { prototype: Record<string, unknown> };
}

const HANDSHAKE = Symbol('dozen.handshake');
const SOCKET = Symbol('dozen.tlsSocket');
const TLS_WRAP_METHODS = ['enableCertCb', 'enableALPNCb', 'certCbDone', 'setOCSPResponse', 'getServername', 'getALPNNegotiatedProtocol', 'readStart', 'destroySSL', 'getpeername'];

/** The binding, or null (pending deprecations on, or a Node without what this needs): then node:tls serves. */
function loadLeanTls(): TlsWrapBinding | null {
  if (pendingDeprecationsOn()) return null;
  try {
    const binding = (process as unknown as { binding(name: string): TlsWrapBinding }).binding('tls_wrap');
    const prototype = binding?.TLSWrap?.prototype;
    if (typeof binding?.wrap !== 'function' || !prototype) return null;
    return TLS_WRAP_METHODS.every((name) => typeof prototype[name] === 'function') ? binding : null;
  } catch {
    return null;
  }
}

let binding: TlsWrapBinding | null | undefined;

/** The fast engine's TLS terminator, or null where this Node (or its flags) does not allow it: node:tls serves then. */
export function leanTlsAcceptor(options: TlsTermination): LeanTlsAcceptor | null {
  if (binding === undefined) binding = loadLeanTls();
  return binding && new LeanTlsAcceptor(binding, options);
}

/** How often handshakes are checked against their deadline (proxy.timeouts.clientHeaders, as node:tls's handshakeTimeout in the twin). */
const SWEEP_MS = 250;

/** One connection until its handshake is done; what the callbacks, called with the TLSWrap as `this`, reach it by. */
class Handshake {
  closed = false;
  /** Set by ALPN (TLS 1.3 picks it before the certificate): the TLS-ALPN-01 challenge's context, read by the SNI choice. */
  [key: symbol]: unknown;
  constructor(
    readonly acceptor: LeanTlsAcceptor,
    readonly ssl: TlsWrap,
    readonly handle: TcpHandle,
    readonly startedAt: number,
  ) {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.acceptor.pending.unwatch(this);
    const ssl = this.ssl;
    // onread is a slot Node's stream code requires to hold a function.
    ssl.onread = ignore;
    ssl.onhandshakedone = ssl.onerror = null;
    // Freed once the handle is: TLSWrap may still be on the stack (an error raised inside OpenSSL's callbacks).
    this.handle.close(() => ssl.destroySSL());
  }
}

/** Takes a listening net.Server's connections and terminates TLS on them (the module's comment says how). */
export class LeanTlsAcceptor implements TlsAcceptor {
  readonly pending: Sweep<Handshake>;
  /** The context a connection starts with: proxy.tls.defaultDomain's certificate (a client without SNI gets it), else none. */
  private context: SecureContext;
  private readonly stapler: OcspStapler | null;

  constructor(
    private readonly binding: TlsWrapBinding,
    private readonly options: TlsTermination,
  ) {
    const certificates = options.certificates;
    this.context = this.makeContext(null);
    certificates.onDefaultCertificate((pems) => (this.context = this.makeContext(pems)));
    certificates.onTicketKeys((keys) => (this.context.context as NativeContext).setTicketKeys(keys));
    this.stapler = options.ocspStapling ? new OcspStapler() : null;
    const timeout = options.handshakeTimeout + SWEEP_MS;
    this.pending = new Sweep(SWEEP_MS, (handshake, now) => {
      if (now - handshake.startedAt > timeout) handshake.close();
    });
  }

  /** Takes over `server`'s connections; called as it starts listening, before any connection is delivered. */
  attach(server: Server): void {
    const listening = (server as Server & { _handle?: { onconnection?: unknown } | null })._handle;
    if (!listening || typeof listening.onconnection !== 'function') throw new Error('proxy: this Node has no onconnection on a listening server; set proxy.engine: portable');
    listening.onconnection = (error: number, handle: TcpHandle | undefined) => {
      if (error === 0 && handle) this.accept(handle);
    };
  }

  /** Closes the connections still in their handshake (the listener closes the others). */
  close(): void {
    for (const handshake of this.pending.watched()) handshake.close();
  }

  private accept(handle: TcpHandle): void {
    if (!this.options.admits(this.pending.size)) {
      handle.onread = ignore;
      handle.close();
      this.options.dropped?.();
      return;
    }
    // Reads reach the TCP handle's own callback only after TLSWrap let go of it: the connection is over.
    handle.onread = closeHandle;
    handle.setNoDelay(true);
    const ssl = this.binding.wrap(handle, this.context.context as NativeContext, true, false);
    ssl._parent = handle; // node:tls's TLSWrap methods proxy getpeername, setNoDelay and close to it
    ssl._secureContext = this.context;
    const handshake = new Handshake(this, ssl, handle, this.pending.now);
    ssl[HANDSHAKE] = handshake;
    ssl.onread = closeBeforeHandshake; // only the end of the stream or an error comes before the handshake is done
    ssl.onerror = closeBeforeHandshake;
    ssl.onhandshakedone = handshakeDone;
    ssl.oncertcb = chooseCertificate;
    ssl.enableCertCb();
    ssl.ALPNCallback = chooseProtocol;
    ssl.enableALPNCb();
    this.pending.watch(handshake);
    ssl.reading = true;
    if (ssl.readStart() !== 0) handshake.close();
  }

  /** SNI (and, asked for, an OCSP staple): as node:tls's certificate callback with the same SNICallback. */
  certificate(handshake: Handshake, info: { servername?: string; OCSPRequest?: boolean }): void {
    const ssl = handshake.ssl;
    const servername = info.servername;
    if (servername) {
      let chosen: SecureContext | undefined;
      (this.options.options.SNICallback as (this: unknown, name: string, done: (error: Error | null, context?: SecureContext) => void) => void).call(handshake, servername, (_error, context) => (chosen = context));
      if (chosen) ssl.sni_context = chosen.context as NativeContext;
    }
    if (!info.OCSPRequest || this.stapler === null) return ssl.certCbDone();
    const native = ssl.sni_context ?? (this.context.context as NativeContext);
    const certificate = native.getCertificate();
    if (!certificate) return ssl.certCbDone();
    const done = (response: Buffer | null) => {
      if (handshake.closed) return;
      try {
        if (response) ssl.setOCSPResponse(response);
        ssl.certCbDone();
      } catch {
        handshake.close();
      }
    };
    // A failed fetch is the stapler's to retry: the handshake goes on without a staple.
    this.stapler.staple(certificate, native.getIssuer()).then(done, () => done(null));
  }

  /** ALPN: the listener's ALPNCallback picks; the answer is the offset of the protocol in the client's list. */
  protocol(handshake: Handshake, offered: Buffer): number | undefined {
    const protocols: string[] = [];
    for (let offset = 0; offset < offered.length; offset += 1 + offered[offset]) protocols.push(offered.toString('latin1', offset + 1, offset + 1 + offered[offset]));
    const servername = handshake.ssl.getServername() || '';
    const chosen = (this.options.options.ALPNCallback as (this: unknown, offer: { servername: string; protocols: string[] }) => string | undefined).call(handshake, { servername, protocols });
    const index = chosen === undefined ? -1 : protocols.indexOf(chosen);
    if (index < 0) return undefined;
    let offset = 0;
    for (let i = 0; i < index; i++) offset += 1 + protocols[i].length;
    return offset;
  }

  /** The handshake is done: the connection goes on as one net.Socket over its TLSWrap. */
  established(handshake: Handshake): void {
    const ssl = handshake.ssl;
    this.pending.unwatch(handshake);
    handshake.closed = true;
    ssl[HANDSHAKE] = undefined;
    ssl.onerror = socketError;
    // `reading` stays true: the socket must not start the stream again (libuv: EALREADY).
    const socket = new Socket({ handle: ssl, allowHalfOpen: true } as ConstructorParameters<typeof Socket>[0]) as LeanTlsSocket;
    socket.encrypted = true;
    socket.ssl = ssl; // node:tls's TLSWrap close() frees OpenSSL's state through it
    socket.alpnProtocol = ssl.getALPNNegotiatedProtocol();
    socket.servername = ssl.getServername();
    ssl[SOCKET] = socket;
    this.options.secure(socket);
  }

  private makeContext(pems: CertificatePems | null): SecureContext {
    const certificates = this.options.certificates;
    return servingContext(pems, certificates.ticketKeys, certificates.renewal);
  }
}

/** What the listener's code reads of a TLS socket (as of a TLSSocket). */
type LeanTlsSocket = Socket & Pick<TLSSocket, 'encrypted' | 'alpnProtocol'> & { servername: string | false; ssl: TlsWrap };

// The callbacks are shared functions, called with the TLSWrap as `this`: no closure per connection.

function handshakeDone(this: TlsWrap): void {
  const handshake = this[HANDSHAKE];
  if (handshake && !handshake.closed) handshake.acceptor.established(handshake);
}

function chooseCertificate(this: TlsWrap, info: { servername?: string; OCSPRequest?: boolean }): void {
  const handshake = this[HANDSHAKE];
  if (!handshake || handshake.closed) return;
  try {
    handshake.acceptor.certificate(handshake, info);
  } catch {
    handshake.close();
  }
}

function chooseProtocol(this: TlsWrap, offered: Buffer): number | undefined {
  const handshake = this[HANDSHAKE];
  if (!handshake || handshake.closed) return undefined;
  try {
    return handshake.acceptor.protocol(handshake, offered);
  } catch {
    handshake.close();
    return undefined;
  }
}

function closeBeforeHandshake(this: TlsWrap): void {
  this[HANDSHAKE]?.close();
}

/** A TLS error once the socket exists (a bad record, a renegotiation attempt): the connection ends, as node:tls ends it. */
function socketError(this: TlsWrap, error: Error): void {
  this[SOCKET]?.destroy(error);
}

function ignore(): void {}

function closeHandle(this: TcpHandle): void {
  this.onread = ignore;
  this.readStop();
  this.close();
}
