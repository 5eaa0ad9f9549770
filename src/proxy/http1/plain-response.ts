/**
 * The common backend answer, read without llhttp: a status line, plain header
 * lines, one Content-Length and the whole body, all in one read.
 *
 * Why: handing a response to llhttp costs four calls between C++ and
 * JavaScript (head, body, end, execute) and a string for every header name and
 * value, which are then joined again into the client's head. Here the bytes
 * are checked where they lie and the header lines the client gets are kept as
 * byte ranges, copied once. By callgrind this is about a tenth of the proxy's
 * instructions per request (README, Proxy figures).
 *
 * It accepts a strict subset of what llhttp accepts and reads it the same way
 * (plain-response.spec.ts checks both agree on thousands of generated and
 * mutated responses). Everything else is declined, and llhttp reads it: a
 * chunked or close-delimited body, 1xx, 204, 304, obs-fold, a second
 * Content-Length or Connection, a Connection naming other headers, any byte
 * outside the field grammar, a head or body cut across reads, bytes after the
 * body. Answers to HEAD never come here (their length describes no body).
 */
import { bytesAre, HeaderKind, headerKindAt } from './header-names.js';

/** Larger heads go to llhttp, which refuses those over 16 KiB (counting its own way). */
const MAX_HEAD_BYTES = 8 * 1024;
/** Longer lengths than this are llhttp's business (it checks overflow). */
const MAX_LENGTH_DIGITS = 15;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;

/** RFC 9110 tchar: what a header name is made of. */
const TOKEN = byteSet((code) => (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(code)));
/** field-vchar, SP and HTAB (RFC 9110 §5.5): what a header value and a reason phrase are made of. */
const FIELD = byteSet((code) => code === HTAB || (code >= SP && code !== 127));

function byteSet(member: (code: number) => boolean): Uint8Array {
  const set = new Uint8Array(256);
  for (let code = 0; code < 256; code++) set[code] = member(code) ? 1 : 0;
  return set;
}

const enum ConnectionValue {
  None,
  Close,
  KeepAlive,
}

/**
 * One reader per process, reused for every read (reads are handled one at a
 * time, and what it found is used before the next read).
 */
export class PlainResponse {
  status = 0;
  /** The backend keeps the connection open after this response. */
  keepAlive = false;
  /** How long the backend keeps the connection idle, from its Keep-Alive `timeout=` (seconds); -1 when it said nothing. */
  keepAliveSeconds = -1;
  bodyStart = 0;
  bodyEnd = 0;
  /**
   * [start, end) pairs of the bytes that go to the client as they are: the
   * first starts at the status code (the client's status line is always
   * HTTP/1.1), the others are runs of kept header lines; the blank line ending
   * the head is not in them. Hop-by-hop lines and the backend's X-Request-Id
   * fall between them.
   */
  readonly kept: number[] = [];
  /** Bytes in `kept`. */
  keptBytes = 0;

  /** Reads bytes [0, end) of `bytes`; false when they are not a whole plain response (llhttp reads them then). */
  read(bytes: Uint8Array, end: number): boolean {
    const kept = this.kept;
    kept.length = 0;
    this.keptBytes = 0;
    this.keepAliveSeconds = -1;
    // "HTTP/1.x " then three digits and a space.
    if (end < 17 || bytes[0] !== 72 || bytes[1] !== 84 || bytes[2] !== 84 || bytes[3] !== 80 || bytes[4] !== 47 || bytes[5] !== 49 || bytes[6] !== 46) return false;
    const minor = bytes[7] - 48;
    if ((minor !== 0 && minor !== 1) || bytes[8] !== SP || bytes[12] !== SP) return false;
    const status = digit(bytes[9]) * 100 + digit(bytes[10]) * 10 + digit(bytes[11]);
    if (!(status >= 200 && status <= 599) || status === 204 || status === 304) return false;
    let at = 13;
    while (at < end && FIELD[bytes[at]] === 1) at++;
    if (at + 1 >= end || bytes[at] !== CR || bytes[at + 1] !== LF) return false;
    at += 2;

    let keptFrom = 9;
    let length = -1;
    let connection = ConnectionValue.None;
    for (;;) {
      if (at + 1 >= end) return false; // the head goes on in a later read
      if (bytes[at] === CR) {
        if (bytes[at + 1] !== LF) return false;
        break;
      }
      const nameStart = at;
      while (at < end && TOKEN[bytes[at]] === 1) at++;
      const nameEnd = at;
      if (nameEnd === nameStart || at >= end || bytes[at] !== COLON) return false;
      const afterColon = ++at;
      while (at < end && FIELD[bytes[at]] === 1) at++;
      if (at + 1 >= end || bytes[at] !== CR || bytes[at + 1] !== LF) return false;
      const crAt = at;
      at += 2;
      switch (headerKindAt(bytes, nameStart, nameEnd)) {
        case HeaderKind.ContentLength:
          if (length >= 0) return false;
          length = decimal(bytes, afterColon, crAt);
          if (length < 0) return false;
          continue;
        case HeaderKind.TransferEncoding:
          return false;
        case HeaderKind.Connection:
          if (connection !== ConnectionValue.None) return false;
          connection = connectionValue(bytes, afterColon, crAt);
          if (connection === ConnectionValue.None) return false;
          break;
        case HeaderKind.KeepAlive:
          if (this.keepAliveSeconds < 0) this.keepAliveSeconds = keepAliveSeconds(bytes, afterColon, crAt);
          break;
        case HeaderKind.HopByHop:
        case HeaderKind.Upgrade:
        case HeaderKind.RequestId:
          break;
        default:
          continue;
      }
      // This line stays with the backend: the run of kept lines before it ends here.
      if (nameStart > keptFrom) this.keep(keptFrom, nameStart);
      keptFrom = at;
    }
    const blankLine = at;
    const bodyStart = at + 2;
    if (blankLine > keptFrom) this.keep(keptFrom, blankLine);
    if (length < 0 || bodyStart > MAX_HEAD_BYTES || bodyStart + length !== end) return false;
    this.status = status;
    this.keepAlive = minor === 1 ? connection !== ConnectionValue.Close : connection === ConnectionValue.KeepAlive;
    this.bodyStart = bodyStart;
    this.bodyEnd = end;
    return true;
  }

  private keep(start: number, end: number): void {
    this.kept.push(start, end);
    this.keptBytes += end - start;
  }
}

/** A digit's value, or a number that puts the status out of range. */
function digit(code: number): number {
  return code >= 48 && code <= 57 ? code - 48 : 1000;
}

// Content-Length and Connection are read as llhttp reads them: spaces around
// the value are skipped, a tab is not (llhttp refuses a tab after a length, and
// a tab after `close` makes it another token), so a tab declines.

/** 1 to 15 digits with spaces around, or -1. */
function decimal(bytes: Uint8Array, from: number, to: number): number {
  const [start, end] = withoutSpaces(bytes, from, to);
  if (end === start || end - start > MAX_LENGTH_DIGITS) return -1;
  let value = 0;
  for (let at = start; at < end; at++) {
    const code = bytes[at];
    if (code < 48 || code > 57) return -1;
    value = value * 10 + (code - 48);
  }
  return value;
}

/** Exactly `close` or `keep-alive`, in any case, with spaces around; anything else (a list, other tokens) is llhttp's to read. */
function connectionValue(bytes: Uint8Array, from: number, to: number): ConnectionValue {
  const [start, end] = withoutSpaces(bytes, from, to);
  if (end - start === 5 && bytesAre(bytes, start, 'close')) return ConnectionValue.Close;
  if (end - start === 10 && bytesAre(bytes, start, 'keep-alive')) return ConnectionValue.KeepAlive;
  return ConnectionValue.None;
}

/** The number after `timeout=` (any case, spaces around `=`, up to 9 digits) in a Keep-Alive value, or -1. */
function keepAliveSeconds(bytes: Uint8Array, from: number, to: number): number {
  for (let at = from; at + 8 <= to; at++) {
    // At the value's start or after a separator, as keepAliveSecondsOf (headers.ts) reads it.
    const before = at === from ? SP : bytes[at - 1];
    if ((before !== SP && before !== HTAB && before !== 44 && before !== 59) || !bytesAre(bytes, at, 'timeout')) continue;
    let next = at + 7;
    while (next < to && (bytes[next] === SP || bytes[next] === HTAB)) next++;
    if (bytes[next] !== 61 /* = */) continue;
    next++;
    while (next < to && (bytes[next] === SP || bytes[next] === HTAB)) next++;
    let value = 0;
    let digits = 0;
    while (next < to && bytes[next] >= 48 && bytes[next] <= 57 && digits < 10) {
      value = value * 10 + (bytes[next++] - 48);
      digits++;
    }
    // No number, or one too long to be seconds: a later `timeout=` may still say it.
    if (digits >= 1 && digits <= 9) return value;
  }
  return -1;
}

function withoutSpaces(bytes: Uint8Array, from: number, to: number): [number, number] {
  let start = from;
  let end = to;
  while (start < end && bytes[start] === SP) start++;
  while (end > start && bytes[end - 1] === SP) end--;
  return [start, end];
}
