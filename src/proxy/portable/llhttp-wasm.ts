/**
 * llhttp compiled to WebAssembly: the parser Node's http module runs
 * natively (the fast engine's llhttp.ts), in the build undici ships and runs
 * for every response it reads. Same state machine, same strictness (no
 * lenient flag is set), reached without any Node internal.
 *
 * Why this build: smuggling lives in parser corner cases (Content-Length
 * with Transfer-Encoding, obs-fold, bare LF, chunk sizes), so the portable
 * engine runs the parser Node and undici keep fixing rather than another
 * one (http-parser-js is lenient where llhttp is strict). It is loaded from
 * undici's package (`undici/lib/llhttp/`, a dependency of dozen; undici has
 * no exports map, so the path is reachable as any file of a package); if a
 * later undici moves it, this module fails at load with a clear message and
 * its spec (llhttp-wasm.spec.ts) fails.
 *
 * Glue as Node's binding around llhttp: a head over 16 KiB (request line or
 * status line and header lines) is HPE_HEADER_OVERFLOW, header values lose
 * trailing whitespace, trailers are dropped, an Upgrade head stops parsing
 * at its end and returns the bytes parsed.
 */
import { createRequire } from 'node:module';
import { MAX_HEAD_BYTES, type Http1Parser, type ParseError, type ParserKind, type ParserOwner } from '../http1/io.js';

/** The WebAssembly global, as far as used here (the project's TypeScript libs do not declare it). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
};

interface LlhttpExports {
  memory: { buffer: ArrayBuffer };
  malloc(size: number): number;
  free(pointer: number): void;
  llhttp_alloc(type: number): number;
  llhttp_free(parser: number): void;
  llhttp_execute(parser: number, data: number, length: number): number;
  llhttp_finish(parser: number): number;
  llhttp_get_error_pos(parser: number): number;
  llhttp_get_error_reason(parser: number): number;
  llhttp_errno_name(errno: number): number;
  llhttp_get_method(parser: number): number;
  llhttp_get_http_major(parser: number): number;
  llhttp_get_http_minor(parser: number): number;
  llhttp_resume_after_upgrade(parser: number): void;
}

interface LlhttpConstants {
  TYPE: { REQUEST: number; RESPONSE: number };
  ERROR: { OK: number; PAUSED_UPGRADE: number };
  METHODS: Record<string, number>;
  METHODS_HTTP: number[];
}

function load(): { wasm: LlhttpExports; constants: LlhttpConstants } {
  const require = createRequire(import.meta.url);
  let constants: LlhttpConstants;
  let module: object;
  try {
    constants = require('undici/lib/llhttp/constants.js') as LlhttpConstants;
    module = new WebAssembly.Module(require('undici/lib/llhttp/llhttp-wasm.js') as Buffer);
  } catch (error) {
    throw new Error(`the portable engine's HTTP parser (llhttp as WebAssembly, from undici) cannot be loaded: ${(error as Error).message}`);
  }
  const instance = new WebAssembly.Instance(module, { env: callbacks });
  return { wasm: instance.exports as unknown as LlhttpExports, constants };
}

/** The parser whose execute or finish is running (execute can nest: an owner's callback may feed another parser), and its input. */
let current: WasmParser | null = null;
let input: Buffer | null = null;
/** Where `input` was copied to in the module's memory: `at` pointers minus this are offsets into `input`. */
let inputPointer = 0;

/** llhttp's callbacks (imports of the module). They return 0 to go on, -1 to stop with an error, 1 from headers-complete to skip the body. */
const callbacks = {
  wasm_on_message_begin: (): number => current!.onMessageBegin(),
  wasm_on_url: (_parser: number, at: number, length: number): number => current!.onUrl(at - inputPointer, length),
  wasm_on_status: (_parser: number, at: number, length: number): number => current!.onStatus(at - inputPointer, length),
  wasm_on_header_field: (_parser: number, at: number, length: number): number => current!.onHeaderField(at - inputPointer, length),
  wasm_on_header_value: (_parser: number, at: number, length: number): number => current!.onHeaderValue(at - inputPointer, length),
  wasm_on_headers_complete: (_parser: number, status: number, upgrade: number, keepAlive: number): number => current!.onHeadersComplete(status, upgrade === 1, keepAlive === 1),
  wasm_on_body: (_parser: number, at: number, length: number): number => current!.onBody(at - inputPointer, length),
  wasm_on_message_complete: (): number => current!.onMessageComplete(),
};

const { wasm, constants } = load();

/** Request methods by llhttp's enum value, the HTTP ones only (as Node's table: no PRI, no RTSP); others read as undefined and get 501. */
const METHODS: (string | undefined)[] = [];
for (const [name, value] of Object.entries(constants.METHODS)) if (constants.METHODS_HTTP.includes(value) && name !== 'PRI') METHODS[value] = name;

/** The module's buffer that reads are copied into (grown as needed); a nested execute copies into one of its own. */
let shared = { pointer: 0, size: 0 };

function cString(pointer: number): string {
  if (pointer === 0) return '';
  const bytes = new Uint8Array(wasm.memory.buffer, pointer);
  return Buffer.from(bytes.subarray(0, bytes.indexOf(0))).toString('latin1');
}

export function createParser(kind: ParserKind, owner: ParserOwner): Http1Parser {
  return new WasmParser(kind, owner);
}

class WasmParser implements Http1Parser {
  private pointer: number;
  private readonly request: boolean;
  /** Bytes of the head so far (request or status line and header lines), against MAX_HEAD_BYTES. */
  private headBytes = 0;
  private overflow = false;
  /** Between message-begin and headers-complete: header callbacks are the head's (after it, a chunked body's trailers). */
  private inHead = false;
  private url = '';
  private reason = '';
  private headers: string[] = [];
  /** The last header callback was for a value: a name callback starts the next header, else continues this one. */
  private lastWasValue = false;
  private tellsComplete = true;
  private running = 0;
  private freed = false;

  constructor(
    kind: ParserKind,
    private readonly owner: ParserOwner,
  ) {
    this.request = kind === 'request';
    this.pointer = wasm.llhttp_alloc(this.request ? constants.TYPE.REQUEST : constants.TYPE.RESPONSE);
  }

  execute(data: Buffer): number | ParseError {
    const outer = { current, input, inputPointer };
    // A nested execute must not overwrite the bytes the outer one is still parsing.
    const region = outer.current === null ? shared : { pointer: 0, size: 0 };
    if (data.length > region.size) {
      if (region.pointer) wasm.free(region.pointer);
      region.size = Math.ceil(data.length / 4096) * 4096;
      region.pointer = wasm.malloc(region.size);
    }
    new Uint8Array(wasm.memory.buffer, region.pointer, data.length).set(data);
    current = this;
    input = data;
    inputPointer = region.pointer;
    this.running++;
    let result: number;
    try {
      result = wasm.llhttp_execute(this.pointer, region.pointer, data.length);
    } finally {
      this.running--;
      ({ current, input, inputPointer } = outer);
      if (region !== shared && region.pointer) wasm.free(region.pointer);
    }
    if (result === constants.ERROR.OK) return this.done(data.length);
    const parsed = wasm.llhttp_get_error_pos(this.pointer) - region.pointer;
    if (result === constants.ERROR.PAUSED_UPGRADE) {
      // As Node's binding: stop at the end of the Upgrade head, ready to parse HTTP again should the backend refuse it.
      wasm.llhttp_resume_after_upgrade(this.pointer);
      return this.done(parsed);
    }
    const error = this.error(result, parsed);
    this.done(0);
    return error;
  }

  finish(): ParseError | undefined {
    if (this.freed) return undefined;
    const outer = current;
    current = this;
    this.running++;
    let result: number;
    try {
      result = wasm.llhttp_finish(this.pointer);
    } finally {
      this.running--;
      current = outer;
    }
    const error = result === constants.ERROR.OK ? undefined : this.error(result, 0);
    this.done(0);
    return error;
  }

  free(): void {
    this.freed = true;
    // Freed from inside one of its own callbacks: llhttp still runs on it, so free it once execute returns.
    if (this.running === 0) this.release();
  }

  tellComplete(tell: boolean): void {
    this.tellsComplete = tell;
  }

  private done(parsed: number): number {
    if (this.freed && this.running === 0) this.release();
    return parsed;
  }

  private release(): void {
    if (this.pointer === 0) return;
    wasm.llhttp_free(this.pointer);
    this.pointer = 0;
  }

  private error(errno: number, parsed: number): ParseError {
    const code = this.overflow ? 'HPE_HEADER_OVERFLOW' : cString(wasm.llhttp_errno_name(errno));
    const reason = this.overflow ? 'Header overflow' : cString(wasm.llhttp_get_error_reason(this.pointer));
    return Object.assign(new Error(`Parse Error: ${reason}`), { code, reason, bytesParsed: parsed });
  }

  private counted(length: number): boolean {
    this.headBytes += length;
    if (this.headBytes < MAX_HEAD_BYTES) return true;
    this.overflow = true;
    return false;
  }

  onMessageBegin(): number {
    this.headBytes = 0;
    this.inHead = true;
    this.url = '';
    this.reason = '';
    this.headers = [];
    this.lastWasValue = false;
    this.owner.messageBegin?.();
    return 0;
  }

  onUrl(at: number, length: number): number {
    if (!this.counted(length)) return -1;
    this.url += input!.toString('latin1', at, at + length);
    return 0;
  }

  onStatus(at: number, length: number): number {
    if (!this.counted(length)) return -1;
    this.reason += input!.toString('latin1', at, at + length);
    return 0;
  }

  onHeaderField(at: number, length: number): number {
    if (!this.counted(length)) return -1;
    if (!this.inHead) return 0; // a trailer: the proxy re-frames bodies and sends none
    const piece = input!.toString('latin1', at, at + length);
    const headers = this.headers;
    if (this.lastWasValue || headers.length === 0) headers.push(piece, '');
    else headers[headers.length - 2] += piece; // a name split across reads
    this.lastWasValue = false;
    return 0;
  }

  onHeaderValue(at: number, length: number): number {
    if (!this.counted(length)) return -1;
    if (!this.inHead) return 0;
    this.headers[this.headers.length - 1] += input!.toString('latin1', at, at + length);
    this.lastWasValue = true;
    return 0;
  }

  onHeadersComplete(status: number, upgrade: boolean, keepAlive: boolean): number {
    this.inHead = false;
    const headers = this.headers;
    this.headers = [];
    for (let index = 1; index < headers.length; index += 2) headers[index] = trimEnd(headers[index]);
    const major = wasm.llhttp_get_http_major(this.pointer);
    const minor = wasm.llhttp_get_http_minor(this.pointer);
    const result = this.request
      ? this.owner.headersComplete(major, minor, headers, METHODS[wasm.llhttp_get_method(this.pointer)], this.url, undefined, undefined, upgrade, keepAlive)
      : this.owner.headersComplete(major, minor, headers, undefined, '', status, this.reason, upgrade, keepAlive);
    this.url = '';
    return result;
  }

  onBody(at: number, length: number): number {
    // A copy: the input may be a read buffer the next read overwrites (backend sockets share one).
    this.owner.body(Buffer.from(input!.subarray(at, at + length)));
    return 0;
  }

  onMessageComplete(): number {
    this.inHead = false;
    if (this.tellsComplete) this.owner.messageComplete();
    return 0;
  }
}

/** A header value without trailing spaces and tabs (llhttp drops the leading ones), as Node's binding gives it. */
function trimEnd(value: string): string {
  let end = value.length;
  while (end > 0 && (value.charCodeAt(end - 1) === 0x20 || value.charCodeAt(end - 1) === 0x09)) end--;
  return end === value.length ? value : value.slice(0, end);
}
