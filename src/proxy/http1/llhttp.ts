/**
 * llhttp, the HTTP/1.1 parser inside Node's own http module, used directly.
 *
 * Why not `node:http`: its IncomingMessage/ServerResponse streams cost more
 * than half of the proxy's CPU per request (measured: Node's http server with
 * the fastest possible upstream side reaches 0.63x nginx, raw sockets 0.94x).
 * Why not a parser of our own: request smuggling lives in parser corner cases
 * (Content-Length with Transfer-Encoding, obs-fold, bare LF, chunk extensions);
 * llhttp is the parser Node and undici trust and keep fixing. It is reached
 * through `_http_common`, the module node:http itself loads it from
 * (undocumented, but stable since Node 12 and free of the deprecation warning
 * `process.binding('http_parser')` prints); `loadParser` fails at start with a
 * clear message if a future Node moves it.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { MAX_HEAD_BYTES, type Http1Parser, type ParseError, type ParserKind, type ParserOwner } from './io.js';

/** Node's HTTPParser (a C++ object), as this module drives it. */
interface LlhttpParser extends Http1Parser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  /** Reads straight from a socket's libuv stream (as node:http does): no Buffer, Readable or JS call per read but kOnExecute. */
  consume(handle: object): void;
  unconsume(): void;
  /** While consuming, inside kOnExecute: a copy of the bytes just read. */
  getCurrentBuffer(): Buffer;
  /** Deletes the C++ parser (nothing else does: it is not weak). */
  close(): void;
  [slot: number]: unknown;
}

interface HttpCommon {
  HTTPParser: {
    new (): LlhttpParser;
    REQUEST: number;
    RESPONSE: number;
    kOnMessageBegin: number;
    kOnHeaders: number;
    kOnHeadersComplete: number;
    kOnBody: number;
    kOnMessageComplete: number;
    kOnExecute: number;
    kLenientNone: number;
  };
  methods: string[];
}

function loadParser(): HttpCommon {
  try {
    const common = createRequire(import.meta.url)('_http_common') as HttpCommon;
    if (typeof common?.HTTPParser !== 'function' || !Array.isArray(common.methods)) throw new Error('no HTTPParser in _http_common');
    return common;
  } catch (error) {
    throw new Error(`this Node.js (${process.version}) does not expose its HTTP parser: ${(error as Error).message}; run dozen's proxy on Node.js 20, 22 or 24`);
  }
}

const common = loadParser();
const { HTTPParser } = common;

/**
 * Request methods by llhttp's enum value (the `method` argument of
 * onHeadersComplete). `methods` lists the HTTP ones in enum order up to
 * SOURCE (33); later ones skip the RTSP block, and of those only QUERY (46)
 * is HTTP. An index found nowhere reads as undefined and gets 501.
 */
const METHODS: readonly (string | undefined)[] = methodTable(common.methods);

function methodTable(methods: string[]): (string | undefined)[] {
  const source = methods.indexOf('SOURCE');
  const table: (string | undefined)[] = methods.slice(0, source + 1);
  if (methods.includes('QUERY')) table[46] = 'QUERY';
  return table;
}

/** A parser with its owner and the pieces of a head that spans several reads (llhttp hands those over early). */
type OwnedParser = LlhttpParser & { owner: ParserOwner; freed: boolean; pieces: string[]; url: string; tellsComplete: boolean; inBody: boolean; upgradeRead: boolean };

/**
 * Freed parsers, as node:http keeps them (its `parsers` FreeList): Node's
 * HTTPParser is a C++ object the garbage collector never frees (node:http
 * deletes it with `close()`), so a parser dropped without `close()` kept its
 * C++ object and everything its JavaScript side reached, the connection and
 * its socket included: about 5 KB per connection, for good. Reusing them also
 * saves making one per connection.
 */
const POOL: OwnedParser[] = [];
const POOL_LIMIT = 1_000;
/** Freed in this turn of the event loop: a parser may be freed from inside its own callback, so it is pooled or deleted once the stack has unwound. */
let released: OwnedParser[] = [];
const nativeFree = HTTPParser.prototype.free as (this: LlhttpParser) => void;

/** A strict parser (no lenient flags) that tells `owner` what it reads. */
export function createParser(kind: ParserKind, owner: ParserOwner): Http1Parser {
  const parser = POOL.pop() ?? newParser();
  parser.initialize(kind === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE, {}, MAX_HEAD_BYTES, HTTPParser.kLenientNone);
  parser.owner = owner;
  parser.freed = false;
  parser.pieces = [];
  parser.url = '';
  parser.tellsComplete = true;
  parser.inBody = false;
  parser.upgradeRead = false;
  // Node 22 dropped the parser's headersCompleted(); llhttp's message-begin callback (in Node 20, 22 and 24) tells the owner instead.
  parser[HTTPParser.kOnMessageBegin] = owner.messageBegin ? onMessageBegin : null;
  parser[HTTPParser.kOnMessageComplete] = onMessageComplete;
  return parser;
}

function newParser(): OwnedParser {
  const parser = new HTTPParser() as OwnedParser;
  parser.tellComplete = tellComplete;
  parser.free = releaseParser;
  parser[HTTPParser.kOnHeaders] = onHeaders;
  parser[HTTPParser.kOnHeadersComplete] = onHeadersComplete;
  parser[HTTPParser.kOnBody] = onBody;
  parser[HTTPParser.kOnExecute] = onExecute;
  return parser;
}

/**
 * Http1Parser.free: the parser goes back to the pool (or is deleted) once the stack has unwound. Until
 * then llhttp may still call it (the rest of a read it is parsing) and the owner, closed, ignores that.
 * Twice is once.
 */
function releaseParser(this: OwnedParser): void {
  if (this.freed) return;
  this.freed = true;
  if (released.length === 0) setImmediate(settleReleased);
  released.push(this);
}

function settleReleased(): void {
  const parsers = released;
  released = [];
  for (const parser of parsers) {
    parser.owner = IDLE;
    parser.pieces = [];
    if (POOL.length < POOL_LIMIT) {
      // As node:http does when it pools one: async_hooks hear the resource's end.
      nativeFree.call(parser);
      POOL.push(parser);
    } else parser.close();
  }
}

/** The owner of a pooled parser: it holds on to nothing. */
const IDLE: ParserOwner = { headersComplete: () => 0, body() {}, messageComplete() {}, executed() {} };

// llhttp calls these with the parser as `this`.
function onMessageBegin(this: OwnedParser): void {
  this.inBody = false;
  this.owner.messageBegin!();
}

/**
 * Header pieces of a head that spans reads, or a chunked body's trailer
 * fields: Node hands those over here too, with the message's URL again,
 * just before message-complete. Trailers are dropped (the proxy re-frames
 * bodies and sends none): gathered, they became the next message's headers
 * and its URL the prefix of the next one's.
 */
function onHeaders(this: OwnedParser, headers: string[], url: string): void {
  if (this.inBody) return;
  this.pieces.push(...headers);
  this.url += url;
}

function onHeadersComplete(
  this: OwnedParser, major: number, minor: number, headers: string[] | undefined, method: number | undefined, url: string | undefined,
  status: number | undefined, reason: string | undefined, upgrade: boolean, keepAlive: boolean,
): number {
  // A head that spanned reads comes with undefined headers and url: what onHeaders gathered is the head.
  if (headers === undefined) {
    headers = this.pieces;
    this.pieces = [];
  }
  if (url === undefined) {
    url = this.url;
    this.url = '';
  }
  if (upgrade) this.upgradeRead = true;
  const result = this.owner.headersComplete(major, minor, headers, method === undefined ? undefined : METHODS[method], url, status, reason, upgrade, keepAlive);
  // A message whose end is not told has no body, so no trailers: the next pieces are the next head's.
  this.inBody = this.tellsComplete;
  return result;
}

function onBody(this: OwnedParser, chunk: Buffer): void {
  this.owner.body(chunk);
}

function onMessageComplete(this: OwnedParser): void {
  this.inBody = false;
  this.owner.messageComplete();
}

/** A consumed socket was read. After an Upgrade head the owner gets the read's bytes too: what follows the head is the tunnel's. */
function onExecute(this: OwnedParser, result: number | ParseError): void {
  if (!this.upgradeRead) return this.owner.executed(result);
  this.upgradeRead = false;
  this.owner.executed(result, this.getCurrentBuffer());
}

/** The libuv stream under a net.Socket; `reading` is the flag net.Socket itself keeps in step with readStart/readStop. */
export interface StreamHandle {
  reading: boolean;
  readStart(): number;
  readStop(): number;
}

/**
 * Lets `parser` read `socket` straight from its libuv stream, in C++, as
 * node:http does: no Buffer, Readable push or JS call per read but the
 * owner's `executed`. The end of the stream and errors still reach the
 * socket, which is kept flowing so that it ends and closes as usual.
 * Returns the handle, to pause and resume reading with.
 */
export function consumeSocket(parser: Http1Parser, socket: Socket): StreamHandle {
  const handle = (socket as unknown as { _handle: StreamHandle | null })._handle;
  if (!handle) throw new Error('the socket has no stream to read (closed, or not a TCP socket)');
  (parser as LlhttpParser).consume(handle);
  socket.resume();
  return handle;
}

/** Stops or starts reading a consumed socket (the kernel's buffer fills and TCP pushes back on the peer). */
export function setReading(handle: StreamHandle, reading: boolean): void {
  if (handle.reading === reading) return;
  handle.reading = reading;
  if (reading) handle.readStart();
  else handle.readStop();
}

/** Stops a consumed parser reading its socket. */
export function unconsume(parser: Http1Parser): void {
  (parser as LlhttpParser).unconsume();
}

/** Http1Parser.tellComplete: a message that is not told makes llhttp call no JavaScript at its end. */
function tellComplete(this: OwnedParser, tell: boolean): void {
  if (this.tellsComplete === tell) return;
  this.tellsComplete = tell;
  this[HTTPParser.kOnMessageComplete] = tell ? onMessageComplete : null;
}
