import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Http1Parser, ParserKind, ParserOwner } from '../http1/io.js';
import { createParser as createNative } from '../http1/llhttp.js';
import { createParser as createWasm } from './llhttp-wasm.js';
import { mutateBytes, seededRandom } from '../../../test/support/mutation.js';

/** Everything a parser tells its owner about `bytes` fed in the pieces `cuts` make, as one list. */
function told(create: (kind: ParserKind, owner: ParserOwner) => Http1Parser, kind: ParserKind, bytes: Buffer, cuts: number[], end = false): unknown[] {
  const events: unknown[] = [];
  let upgraded = false;
  const owner: ParserOwner = {
    messageBegin: () => void events.push('begin'),
    headersComplete: (...head) => {
      events.push(['head', ...head]);
      upgraded ||= head[7];
      return 0;
    },
    body: (chunk) => void events.push(['body', chunk.toString('latin1')]),
    messageComplete: () => void events.push('complete'),
    executed: () => undefined,
  };
  const parser = create(kind, owner);
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    const result = parser.execute(bytes.subarray(from, to));
    if (typeof result !== 'number') {
      events.push(['error', result.code, result.reason]);
      parser.free();
      return events;
    }
    events.push(['parsed', result]);
    // After an Upgrade head the bytes are another protocol's: the engine never parses them (nor ends the parser).
    if (upgraded) return events;
    from = to;
  }
  if (end) {
    const error = parser.finish();
    if (error) events.push(['error', error.code]);
  }
  parser.free();
  return events;
}

function same(kind: ParserKind, text: string, cuts: number[] = [], end = false): unknown[] {
  const bytes = Buffer.from(text, 'latin1');
  const native = told(createNative, kind, bytes, cuts, end);
  assert.deepEqual(told(createWasm, kind, bytes, cuts, end), native, `${kind} ${JSON.stringify(text.slice(0, 120))} cut at ${cuts}`);
  return native;
}

/** Requests a public proxy must read exactly as Node's own parser does, smuggling attempts first. */
const REQUESTS = [
  'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
  'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc',
  'GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n',
  'GET / HTTP/1.1\nHost: a\n\n',
  'GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n',
  'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;ext="x"\r\nabc\r\n0\r\nTrailer: x\r\n\r\nGET /next HTTP/1.1\r\nHost: b\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX0\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n',
  'GET / HTTP/1.1\r\nHost : a\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n',
  'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nX-Space:   padded  \t\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nafter the head',
  'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\ntunnel',
  'DESCRIBE / HTTP/1.1\r\nHost: a\r\n\r\n',
  'QUERY /q HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab',
  'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
  'GET / HTTP/1.0\r\nHost: a\r\n\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\n\r\n',
  `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(16_400)}\r\n\r\n`,
  `GET /${'u'.repeat(16_400)} HTTP/1.1\r\nHost: a\r\n\r\n`,
  `GET / HTTP/1.1\r\nHost: a\r\n${'X-Many: 1\r\n'.repeat(40)}\r\n`,
];

const RESPONSES = [
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
  'HTTP/1.1 200 Fine Indeed\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nT: x\r\n\r\n',
  'HTTP/1.1 204 No Content\r\n\r\n',
  'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.0 200 OK\r\n\r\nuntil the close',
  'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nframes',
  'HTTP/1.1 999 x\r\n\r\n',
  'HTTP/1.1 2000 OK\r\n\r\n',
];

const INTERESTING = [13, 10, 32, 9, 58, 59, 0, 127, 128, 255, 44, 48, 57, 97, 65, 45, 43, 102];

function mutate(text: string, next: () => number): string {
  return mutateBytes(Buffer.from(text, 'latin1'), next, INTERESTING).toString('latin1');
}

function cuts(length: number, next: () => number): number[] {
  const points = new Set<number>();
  // Reads are never empty: a cut lies inside the bytes.
  for (let count = Math.floor(next() * 4); count > 0; count--) points.add(1 + Math.floor(next() * (length - 1)));
  points.delete(length);
  return [...points].sort((a, b) => a - b);
}

describe('llhttp as WebAssembly (the portable engine\'s parser)', () => {
  it('reads requests, smuggling attempts first, as Node\'s own llhttp does', () => {
    for (const text of REQUESTS) same('request', text);
    assert.deepEqual(same('request', REQUESTS[0]).at(-1), ['error', 'HPE_INVALID_TRANSFER_ENCODING', 'Transfer-Encoding can\'t be present with Content-Length']);
    for (const big of REQUESTS.filter((text) => text.length > 16_384)) assert.equal((same('request', big).at(-1) as unknown[])[1], 'HPE_HEADER_OVERFLOW');
  });

  it('reads responses as Node\'s own llhttp does, a body delimited by the close too', () => {
    for (const text of RESPONSES) same('response', text, [], true);
  });

  it('reads heads and bodies cut anywhere across reads as Node\'s own llhttp does', () => {
    const next = seededRandom(20261129);
    for (let round = 0; round < 2_000; round++) {
      const [kind, text] = round % 2 ? (['response', RESPONSES[round % RESPONSES.length]] as const) : (['request', REQUESTS[round % REQUESTS.length]] as const);
      same(kind, text, cuts(text.length, next));
    }
  });

  it('never reads a mutated message differently from Node\'s own llhttp (10,000 mutations)', () => {
    const next = seededRandom(1129);
    let errors = 0;
    for (let round = 0; round < 10_000; round++) {
      const [kind, seed] = round % 3 === 2 ? (['response', RESPONSES[round % RESPONSES.length]] as const) : (['request', REQUESTS[round % REQUESTS.length]] as const);
      const text = mutate(seed, next);
      if (text === '') continue;
      const events = same(kind, text, cuts(text.length, next), kind === 'response');
      if ((events.at(-1) as unknown[])[0] === 'error') errors++;
    }
    // Both sides of the line were exercised, not only the easy one.
    assert.ok(errors > 1_000 && errors < 9_000, `${errors} of 10,000 mutations refused`);
  });
});
