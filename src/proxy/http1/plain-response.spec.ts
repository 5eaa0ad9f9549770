import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { downstreamHeaders, keepAliveSecondsOf } from '../headers.js';
import type { ParserOwner } from './io.js';
import { createParser } from './llhttp.js';
import { PlainResponse } from './plain-response.js';
import { mutateBytes, seededRandom } from '../../../test/support/mutation.js';

/** A response as read, with the header lines the client would get and the backend's Keep-Alive timeout. */
interface Reading {
  status: number;
  keepAlive: boolean;
  keepAliveSeconds: number;
  lines: string;
  body: Buffer;
}

/** What llhttp makes of `bytes` as one response, with the header lines the client would get; null unless exactly one whole response. */
function viaLlhttp(bytes: Buffer): Reading | null {
  let head: { status: number; reason: string; raw: string[]; keepAlive: boolean } | null = null;
  const body: Buffer[] = [];
  let messages = 0;
  const owner: ParserOwner = {
    headersComplete: (_major, _minor, raw, _method, _url, status, reason, _upgrade, keepAlive) => {
      head = { status: status!, reason: reason ?? '', raw, keepAlive };
      return 0;
    },
    body: (chunk) => void body.push(chunk),
    messageComplete: () => void messages++,
    executed: () => undefined,
  };
  const parser = createParser('response', owner);
  try {
    const result = parser.execute(bytes);
    if (typeof result !== 'number' || result !== bytes.length || messages !== 1 || head === null) return null;
    const { status, reason, raw, keepAlive } = head;
    const lines = downstreamHeaders(raw, 'proxy-id').lines.replace('x-request-id: proxy-id\r\n', '');
    return { status, keepAlive, keepAliveSeconds: keepAliveSecondsOf(raw), lines: `${status} ${reason}\r\n${lines}`, body: Buffer.concat(body) };
  } finally {
    parser.free();
  }
}

/** What the plain reader found, in the same shape (header lines normalized to `name: value`). */
function viaPlain(bytes: Buffer): Reading | null {
  const plain = new PlainResponse();
  if (!plain.read(bytes, bytes.length)) return null;
  let text = '';
  for (let index = 0; index < plain.kept.length; index += 2) text += bytes.toString('latin1', plain.kept[index], plain.kept[index + 1]);
  assert.equal(text.length, plain.keptBytes);
  const [statusLine, ...fields] = text.split('\r\n').slice(0, -1);
  const lines = fields.map((line) => line.replace(/^([^:]*):[ \t]*(.*?)[ \t]*$/s, '$1: $2') + '\r\n').join('');
  return { status: plain.status, keepAlive: plain.keepAlive, keepAliveSeconds: plain.keepAliveSeconds, lines: `${statusLine}\r\n${lines}`, body: bytes.subarray(plain.bodyStart, plain.bodyEnd) };
}

const SEEDS = [
  'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 28 Nov 2026 08:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nhello, dozen\n',
  'HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\nX-Request-Id: backend\r\ncontent-length: 2\r\nKeep-Alive: timeout=5\r\n\r\n{}',
  'HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: Keep-Alive\r\n\r\nabc',
  'HTTP/1.0 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 201 \r\nLocation: /x\r\nCONTENT-LENGTH:  4 \r\nconnection: CLOSE\r\n\r\nabcd',
  'HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Tab:\tv\t\r\nX-Latin: caf\xe9\r\nUpgrade: h2c\r\nTE: trailers\r\nTrailer: x\r\nProxy-Connection: x\r\nContent-Length: 1\r\n\r\nz',
  'HTTP/1.1 302 Found\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\nLocation: http://x/\r\n\r\n',
  'HTTP/1.1 200 OK\r\nKeep-Alive: max=100, TIMEOUT = 72\r\nContent-Length: 2\r\n\r\nok',
  'HTTP/1.1 200 OK\r\nkeep-alive: xtimeout=3;timeout=15\r\nContent-Length: 0\r\n\r\n',
];

const DECLINED = [
  ['chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n'],
  ['no length', 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabc'],
  ['1xx', 'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n'],
  ['204', 'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n'],
  ['304', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n'],
  ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\nContent-Length: 0\r\n\r\n'],
  ['two lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na'],
  ['a list in Connection', 'HTTP/1.1 200 OK\r\nConnection: close, X-A\r\nX-A: 1\r\nContent-Length: 0\r\n\r\n'],
  ['head cut', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n'],
  ['body cut', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab'],
  ['bytes after the body', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nabHTTP/1.1'],
  ['bare LF', 'HTTP/1.1 200 OK\nContent-Length: 0\n\n'],
  ['space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n'],
  ['NUL in a value', 'HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n'],
  ['a sign in the length', 'HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\na'],
  ['HTTP/2', 'HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n'],
] as const;

const INTERESTING = [13, 10, 32, 9, 58, 0, 127, 128, 255, 44, 48, 57, 97, 65, 45];

describe('PlainResponse', () => {
  it('reads the usual responses as llhttp does, keeping only end-to-end header lines', () => {
    for (const seed of SEEDS) {
      const bytes = Buffer.from(seed, 'latin1');
      const plain = viaPlain(bytes);
      assert.ok(plain, `declined: ${JSON.stringify(seed)}`);
      assert.deepEqual(plain, viaLlhttp(bytes), JSON.stringify(seed));
    }
    const nginx = viaPlain(Buffer.from(SEEDS[0], 'latin1'))!;
    assert.equal(nginx.lines, '200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 28 Nov 2026 08:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n');
    assert.equal(nginx.keepAlive, true);
    assert.equal(viaPlain(Buffer.from(SEEDS[4], 'latin1'))!.keepAlive, false);
    assert.equal(viaPlain(Buffer.from(SEEDS[3], 'latin1'))!.keepAlive, false);
    // Keep-Alive's timeout (Node's servers send `timeout=5`), wherever it stands in the value; -1 when there is none.
    assert.deepEqual([1, 7, 8, 0].map((index) => viaPlain(Buffer.from(SEEDS[index], 'latin1'))!.keepAliveSeconds), [5, 72, 15, -1]);
  });

  it('leaves every other shape to llhttp', () => {
    for (const [why, text] of DECLINED) assert.equal(new PlainResponse().read(Buffer.from(text, 'latin1'), text.length), false, why);
  });

  it('never reads a mutated response differently from llhttp (10,000 mutations)', () => {
    const next = seededRandom(20261128);
    let accepted = 0;
    let declined = 0;
    for (let round = 0; round < 10_000; round++) {
      const seed = Buffer.from(SEEDS[round % SEEDS.length], 'latin1');
      const bytes = mutateBytes(seed, next, INTERESTING);
      const plain = viaPlain(bytes);
      if (plain === null) {
        declined++;
        continue;
      }
      accepted++;
      assert.deepEqual(plain, viaLlhttp(bytes), `read differently: ${JSON.stringify(bytes.toString('latin1'))}`);
    }
    // Both sides of the line were exercised, not only the easy one.
    assert.ok(accepted > 500 && declined > 500, `accepted ${accepted}, declined ${declined}`);
  });
});
