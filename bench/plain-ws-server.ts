/**
 * The reference for `npm run bench:broadcast`: the smallest useful ws
 * broadcast loop (every frame a client sends goes to every client), i.e.
 * the ceiling of the ws library on this machine. Prints its port.
 */
import { WebSocketServer } from 'ws';

const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
server.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => {
    for (const client of server.clients) if (client.readyState === 1) client.send(data, { binary: isBinary });
  });
});
server.on('listening', () => process.stdout.write(`${(server.address() as { port: number }).port}\n`));
