import { randomFillSync } from 'node:crypto';
import type { SecureContext, Server } from 'node:tls';

/**
 * Session tickets renewed at every resumption, as nginx does for TLS 1.3.
 *
 * Why: a TLS 1.3 client uses a ticket once (RFC 8446 4.6.1; OpenSSL, wrk,
 * browsers). Node's own ticket callback never asks OpenSSL to renew, so a
 * resumed TLS 1.3 connection gets no new ticket and the client's next
 * connection is a full handshake: with wrk, every other connection was one
 * (certificate signature, and its check on the client), against one per
 * client for nginx. Measured in docs/proxy.md, HTTPS figures.
 *
 * How: Node's native SecureContext can hand its ticket-key callback to
 * JavaScript (`enableTicketKeyCallback`, `onticketkeycallback`: not public
 * API; tls.test.ts fails on a Node without it). The answer to a ticket sealed with the
 * current key is "use it and renew" (OpenSSL's 2). OpenSSL calls the callback
 * of the listener's own context, and Node then calls the JavaScript function
 * of the context the connection has at that moment (the listener's, or the
 * one SNI picked): every one of them is hooked. Keys are laid out as Node's
 * `ticketKeys` (name, HMAC key, AES key: 16 bytes each) and sealed with the
 * same algorithms (AES-128-CBC, HMAC-SHA256), so tickets stay valid between
 * a worker that renews and one that could not hook.
 *
 * Where this Node lacks the hook, `hook*` return false and Node's own callback
 * serves (same keys, no renewal): slower to resume, never broken.
 */
export class TicketRenewal {
  private name!: Buffer;
  private hmac!: Buffer;
  private aes!: Buffer;

  constructor(keys: Buffer) {
    this.setKeys(keys);
  }

  /** The 48-byte ticket keys (ServedCertificates' `ticketKeys`); tickets sealed with earlier ones then need a full handshake. */
  setKeys(keys: Buffer): void {
    this.name = Buffer.from(keys.subarray(0, 16));
    this.hmac = Buffer.from(keys.subarray(16, 32));
    this.aes = Buffer.from(keys.subarray(32, 48));
  }

  /** Hooks a context SNI hands out. */
  hookContext(context: SecureContext): boolean {
    return this.hook((context as SecureContext & { context?: NativeContext }).context);
  }

  /** Hooks the listener's own context (`_sharedCreds`, node:tls's name for it): the callback OpenSSL calls is this one's. */
  hookServer(server: Server): boolean {
    return this.hook((server as Server & { _sharedCreds?: { context?: NativeContext } })._sharedCreds?.context);
  }

  private hook(native: NativeContext | undefined): boolean {
    if (native === undefined || typeof native.enableTicketKeyCallback !== 'function') return false;
    native.onticketkeycallback = this.callback;
    native.enableTicketKeyCallback();
    return true;
  }

  /**
   * Called by Node for every ticket sealed (`encrypt`: return the keys, a key
   * name and a fresh IV) or opened (return whether the name is known, and the
   * keys). It must not throw: Node would fail the handshake.
   */
  private readonly callback = (name: Buffer, _iv: Buffer, encrypt: boolean): TicketKeyAnswer => {
    if (encrypt) return [USE, this.hmac, this.aes, this.name, randomFillSync(Buffer.allocUnsafe(16))];
    return [name.equals(this.name) ? USE_AND_RENEW : UNKNOWN_KEY, this.hmac, this.aes];
  };
}

/** OpenSSL's ticket-key callback results (SSL_CTX_set_tlsext_ticket_key_cb). */
const UNKNOWN_KEY = 0;
const USE = 1;
const USE_AND_RENEW = 2;

/** [result, HMAC key, AES key] when opening; [result, HMAC key, AES key, key name, IV] when sealing (Node's kTicketKey*Index). */
type TicketKeyAnswer = [number, Buffer, Buffer] | [number, Buffer, Buffer, Buffer, Buffer];

/** What Node's native SecureContext offers for this (crypto_context.cc, TicketKeyCallback). */
interface NativeContext {
  enableTicketKeyCallback?: () => void;
  onticketkeycallback?: (name: Buffer, iv: Buffer, encrypt: boolean) => TicketKeyAnswer;
}
