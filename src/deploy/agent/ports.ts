import { createServer } from 'node:net';

/**
 * A port of `range` (FIRST-LAST) that no managed container was given and
 * nothing listens on right now (containers use the host's network, so a bind
 * on every address is the check). Starts at a random point so two agents or
 * two quick starts rarely try the same one.
 */
export async function pickPort(range: string, taken: Set<number>): Promise<number> {
  const [first, last] = range.split('-').map(Number);
  const size = last - first + 1;
  const start = Math.floor(Math.random() * size);
  for (let step = 0; step < Math.min(size, 500); step++) {
    const port = first + ((start + step) % size);
    if (!taken.has(port) && (await isFree(port))) return port;
  }
  throw new Error(`no free port in deploy.portRange ${range}`);
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve(true)));
  });
}
