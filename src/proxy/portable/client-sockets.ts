import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { refuse } from '../http1/refuse.js';

/** A request node:http handed over and whose answer has not ended yet. */
interface Pending {
  request: IncomingMessage;
  response: ServerResponse;
  /** node:http found this request's body malformed midway: refuse it (400), the backend gets nothing more of it; false when its answer had already begun. */
  malformed(): boolean;
}

/**
 * What the portable engine keeps of each client connection beyond what
 * node:http does, so a parse error is answered as the fast engine answers
 * it: node:http reports it (clientError) as soon as it parses the bad bytes,
 * while requests read before them may still be in progress.
 *
 * - A body found malformed midway belongs to the request still being read:
 *   that request is refused with 400 (logged as `bad_request_body`), never
 *   completed at the backend.
 * - A bad request after whole ones: those are answered first, then 400, then
 *   the connection closes (node:http would otherwise let the 400 overtake them).
 * - Once a connection is ending (an answer said `connection: close`, or a
 *   parse error), node:http may still parse requests that followed in the
 *   same read; they are dropped, never forwarded nor logged.
 */
export class ClientSockets {
  private readonly pending = new WeakMap<Duplex, Set<Pending>>();
  private readonly ending = new WeakSet<Duplex>();

  /** Registers a request; false when its connection is ending (the request is then left unanswered and unforwarded). */
  track(request: IncomingMessage, response: ServerResponse, malformed: () => boolean): boolean {
    const socket = request.socket;
    if (this.ending.has(socket)) return false;
    let set = this.pending.get(socket);
    if (!set) this.pending.set(socket, (set = new Set()));
    const entry: Pending = { request, response, malformed };
    set.add(entry);
    response.once('close', () => set.delete(entry));
    return true;
  }

  /** This connection closes after the answers under way: nothing parsed after now is served. */
  end(socket: Duplex): void {
    this.ending.add(socket);
  }

  /** node:http could not parse what the client sent (or it took too long). */
  clientError(error: Error & { code?: string }, socket: Duplex): void {
    // node:http calls again for bytes that arrive after a parse error; the first answer stands.
    if (this.ending.has(socket) && error.code !== 'ERR_HTTP_REQUEST_TIMEOUT') return;
    this.ending.add(socket);
    // A client gone, or one that half-closed mid-body: its request can never be whole, and nobody reads an answer.
    if (!socket.writable || error.code === 'ECONNRESET' || error.code === 'HPE_INVALID_EOF_STATE') return void socket.destroy();
    const pending = [...(this.pending.get(socket) ?? [])];
    const unread = pending.find((entry) => !entry.request.complete);
    // The error lies in the body of a request under way: that request is the one refused, and it closes the connection.
    // (When its answer had begun already, 400 follows that answer, as for a bad request after whole ones.)
    if (unread && error.code !== 'HPE_HEADER_OVERFLOW' && error.code !== 'ERR_HTTP_REQUEST_TIMEOUT' && unread.malformed()) return;
    answerAfter(pending, () => answerError(error, socket));
  }
}

/**
 * Runs `then` as soon as every pending answer has ended (at once when none
 * is under way), synchronously and before node:http's own 'finish' handler:
 * that one ends the socket when the client had half-closed.
 */
function answerAfter(pending: Pending[], then: () => void): void {
  let left = pending.length;
  if (left === 0) return then();
  for (const { response } of pending) {
    let ended = false;
    const one = () => {
      if (ended) return;
      ended = true;
      if (--left === 0) then();
    };
    response.prependListener('finish', one);
    response.once('close', one);
  }
}

/** The fast engine's JSON answers to a head it could not take, then close. */
function answerError(error: Error & { code?: string }, socket: Duplex): void {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return refuse(socket, 431, 'headers_too_large', 'the request head is larger than 16 KiB');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return refuse(socket, 408, 'request_timeout', 'the request head did not arrive in time');
    default:
      return refuse(socket, 400, 'bad_request', `the request is not valid HTTP/1.1 (${(error as { reason?: string }).reason ?? error.code ?? error.message})`);
  }
}
