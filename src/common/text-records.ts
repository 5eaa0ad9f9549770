/**
 * The records of a streamed text body, each without its `separator` ('\n' for JSON lines, '\n\n' for
 * Server-Sent Events), as they complete. UTF-8 is decoded across chunk borders; a last record with no
 * separator after it (the stream was cut) is not given.
 */
export async function* textRecords(chunks: AsyncIterable<Uint8Array | string>, separator: string): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of chunks) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf(separator)) >= 0) {
      yield buffer.slice(0, end);
      buffer = buffer.slice(end + separator.length);
    }
  }
}
