import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { textRecords } from './text-records.js';

async function collect(chunks: (Uint8Array | string)[], separator: string): Promise<string[]> {
  const records: string[] = [];
  for await (const record of textRecords((async function* () { yield* chunks; })(), separator)) records.push(record);
  return records;
}

describe('textRecords', () => {
  it('gives each record once its separator arrived, across chunk borders, and not a cut last one', async () => {
    assert.deepEqual(await collect(['a\nb', 'c\n\nd'], '\n'), ['a', 'bc', '']);
    assert.deepEqual(await collect(['event: x\ndata: 1\n', '\nevent: y\n\n', 'event: z'], '\n\n'), ['event: x\ndata: 1', 'event: y']);
  });

  it('decodes a UTF-8 character split between chunks', async () => {
    const bytes = Buffer.from('日志\n', 'utf8');
    assert.deepEqual(await collect([bytes.subarray(0, 2), bytes.subarray(2, 5), bytes.subarray(5)], '\n'), ['日志']);
  });
});
