import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { writeDirect } from './direct-write.js';

/** A loopback connection whose receiving side does not read until told to. */
async function pair(): Promise<{ sender: Socket; receiver: Socket; close(): void }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const sender = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(sender, 'connect');
  const [receiver] = (await accepted) as [Socket];
  receiver.pause();
  return { sender, receiver, close: () => (sender.destroy(), receiver.destroy(), server.close()) };
}

/** `size` bytes counting up from `start` (mod 251), so any reordering or reuse shows. */
function pattern(start: number, size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let index = 0; index < size; index++) bytes[index] = (start + index) % 251;
  return bytes;
}

/** Starts reading `receiver` and resolves with its first `length` bytes. */
function receive(receiver: Socket, length: number): Promise<Buffer> {
  const received: Buffer[] = [];
  let got = 0;
  return new Promise((resolveAll) => {
    receiver.on('data', (chunk: Buffer) => {
      received.push(chunk);
      got += chunk.length;
      if (got >= length) resolveAll(Buffer.concat(received));
    });
    receiver.resume();
  });
}

describe('writeDirect', { timeout: 20_000 }, () => {
  it('keeps every byte in order when the kernel is full: direct, then through Writable, then direct again, and says drain', async () => {
    const { sender, receiver, close } = await pair();
    try {
      const sent: Buffer[] = [];
      let offset = 0;
      let flowing = true;
      // Direct writes until the kernel's buffers are full and one is left to libuv.
      while (flowing) {
        const chunk = pattern(offset, 256 * 1024);
        offset += chunk.length;
        sent.push(chunk);
        flowing = writeDirect(sender, chunk);
      }
      const drained = once(sender, 'drain');
      // These must queue behind the pending direct write, not overtake it.
      const viaWritable = pattern(offset, 1000);
      offset += viaWritable.length;
      sent.push(viaWritable);
      assert.equal(writeDirect(sender, viaWritable), true, 'Writable takes it (its own buffer is empty)');
      const text = 'and a latin1 string at the end';
      sent.push(Buffer.from(text, 'latin1'));
      writeDirect(sender, text);
      const expected = Buffer.concat(sent);
      const received = receive(receiver, expected.length);
      await drained;
      assert.ok((await received).equals(expected), 'the receiver got exactly what was written, in order');
      // Nothing pending any more: the next write is direct and whole.
      assert.equal(writeDirect(sender, Buffer.from('x')), true);
    } finally {
      close();
    }
  });

  it('does not overtake bytes Writable still holds', async () => {
    const { sender, receiver, close } = await pair();
    try {
      const sent: Buffer[] = [];
      let offset = 0;
      // Through Writable until one write is in libuv and more wait in Writable's own buffer.
      while (sender.writableLength <= 256 * 1024) {
        const chunk = pattern(offset, 256 * 1024);
        offset += chunk.length;
        sent.push(chunk);
        sender.write(chunk);
      }
      const last = pattern(offset, 5000);
      sent.push(last);
      writeDirect(sender, last);
      const expected = Buffer.concat(sent);
      assert.ok((await receive(receiver, expected.length)).equals(expected), 'the direct write came after everything Writable held');
    } finally {
      close();
    }
  });

  it('lets a socket with a direct write in libuv be destroyed, and refuses writes to a closed one without throwing', async () => {
    const { sender, close } = await pair();
    try {
      while (writeDirect(sender, Buffer.alloc(256 * 1024))) {
        // fill the kernel's buffers
      }
      sender.destroy();
      await once(sender, 'close');
      sender.on('error', () => {}); // Writable reports the write after destroy as an error, as for any socket
      assert.equal(writeDirect(sender, 'late'), false);
    } finally {
      close();
    }
  });
});
