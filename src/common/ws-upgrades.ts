import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WsAdapter } from '@nestjs/platform-ws';

type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Nest's WsAdapter, remembering the upgrade listener it puts on the http server (see routeUpgrades). */
export class GatewayWsAdapter extends WsAdapter {
  readonly upgradeListeners = new Set<UpgradeListener>();

  protected override ensureHttpServerExists(port: number, httpServer?: Server): Server | undefined {
    const before = new Set(httpServer?.listeners('upgrade') ?? []);
    const server = super.ensureHttpServerExists(port, httpServer);
    for (const listener of server?.listeners('upgrade') ?? []) if (!before.has(listener)) this.upgradeListeners.add(listener as UpgradeListener);
    return server;
  }
}

/**
 * Two WebSocket servers share the admin port: Nest's gateways (the broadcast
 * hub at /ws) and @fastify/websocket (GraphQL subscriptions at /graphql, routed
 * through the Fastify hooks, so the same auth applies). Each one ends the
 * upgrades it does not own, so both cannot listen: this hands each upgrade to
 * one of them, by path. Call once the server listens.
 */
export function routeUpgrades(server: Server, gateways: GatewayWsAdapter, gatewayPaths: string[]): void {
  const all = server.listeners('upgrade') as UpgradeListener[];
  const nest = all.filter((listener) => gateways.upgradeListeners.has(listener));
  const others = all.filter((listener) => !gateways.upgradeListeners.has(listener));
  if (nest.length === 0 || others.length === 0) return;
  server.removeAllListeners('upgrade');
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (request.url ?? '/').split('?')[0];
    for (const listener of gatewayPaths.includes(path) ? nest : others) listener.call(server, request, socket, head);
  });
}
