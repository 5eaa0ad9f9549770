import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDozen, type DozenProcess } from '../support/dozen-process.js';
import { TestClient } from './ws-client.js';

/** What loopback TCP can hold between a server that writes and a client that does not read (both kernels' buffers), with room to spare. */
const MAX_BYTES_SENT = 48 * 1024 * 1024;

describe('broadcast: a client that sends frames but never reads the answers', { timeout: 180_000 }, () => {
  let dozen: DozenProcess;
  before(async () => {
    dozen = await startDozen({ env: { DOZEN_MODULES: 'broadcast', DOZEN_BROADCAST_SEND_BUFFER_BYTES: '65536' } });
  });
  after(async () => {
    await dozen?.stop();
  });

  const slowClients = async () => Number((await (await fetch(dozen.url + '/metrics')).text()).match(/^dozen_broadcast_slow_clients_total (\d+)$/m)?.[1] ?? 0);

  /**
   * Sends `frame` with the client's reading paused until the server counts one more slow client, then reads
   * again and returns how the socket was closed. Batches of 500 with a look at the metric between them:
   * the kernel buffers several MB before the server holds anything itself.
   */
  async function floodUntilClosed(client: TestClient, send: (written?: () => void) => number): Promise<{ code: number; reason: string }> {
    const before = await slowClients();
    const socket = client.socket as unknown as { _socket: { pause(): void; resume(): void } };
    socket._socket.pause();
    let sent = 0;
    while ((await slowClients()) === before) {
      assert.ok(sent < MAX_BYTES_SENT, `sent ${sent} bytes of frames without reading and the server still holds the connection\n${dozen.logs().slice(-2000)}`);
      for (let index = 0; index < 499; index++) sent += send();
      // The batch's last frame handed to the kernel: the client's own buffer does not grow either.
      await new Promise<void>((resolve) => (sent += send(resolve)));
    }
    socket._socket.resume();
    return client.closedWith(30_000);
  }

  it('is closed with 1013 once the replies to its frames pass sendBufferBytes, and the others are served', async () => {
    const client = await TestClient.connect(dozen.url, dozen.token);
    const other = await TestClient.connect(dozen.url, dozen.token);
    try {
      // `leave` of a room it is not in: a reply as long as the frame, the cheapest way to make the server write.
      const room = `chat.${'r'.repeat(190)}`;
      const frame = JSON.stringify({ type: 'leave', room });
      const closed = await floodUntilClosed(client, (written) => (client.socket.send(frame, written), frame.length));
      assert.equal(closed.code, 1013, JSON.stringify(closed));
      assert.match(closed.reason, /client too slow/);
      other.send({ type: 'ping' });
      await other.frame('pong');
    } finally {
      client.close();
      other.close();
    }
  });

  it('is closed the same way when it sends WebSocket pings (the pongs count too)', async () => {
    const client = await TestClient.connect(dozen.url, dozen.token);
    try {
      const payload = Buffer.alloc(125, 'p'); // the largest control frame payload
      const closed = await floodUntilClosed(client, (written) => (client.socket.ping(payload, true, written), payload.length));
      assert.equal(closed.code, 1013, JSON.stringify(closed));
    } finally {
      client.close();
    }
  });
});
