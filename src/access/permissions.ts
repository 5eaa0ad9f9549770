import type { RoleName } from '../common/principal.js';

/**
 * The one permission table: what each permission allows, which roles hold it, and which permission every
 * REST route and GraphQL root field needs. The access guard (access.guard.ts) decides from these tables
 * alone; a route or field missing here is refused, and test/access/permissions.test.ts fails on it.
 */
export const PERMISSIONS = {
  'node.read': 'health, metrics and this host',
  'registry.read': 'services, routes and load',
  'registry.write': 'register, renew and deregister instances',
  'proxy.read': "apps' proxy policies and API key lists",
  'proxy.manage': "set apps' proxy auth policies, create and revoke their API keys",
  'deploy.read': 'hosts, apps, releases, instances and their logs',
  'deploy.write': 'create and change apps, deploy, roll back, scale, start, stop, restart and remove instances',
  'deploy.secrets': "set and unset apps' secrets (also when creating an app), and change where the code of an app with secrets comes from (repository, runtime, image)",
  'storage.read': 'list, read and download objects; tailer status',
  'storage.write': 'upload new objects; go on with or abandon one\'s own resumable uploads',
  'storage.delete': 'delete and replace objects; go on with or abandon anyone\'s resumable uploads',
  'broadcast.read': 'rooms and their history',
  'broadcast.publish': 'publish messages to rooms',
  'broadcast.manage': 'reset the binlog source',
  'tokens.manage': 'create, list and revoke storage API tokens',
  'users.manage': 'create users, change roles, disable them, reset passwords',
  'audit.read': 'the audit log',
  'notify.manage': "the team's notification channels (everyone manages their own)",
} as const;

export type Permission = keyof typeof PERMISSIONS;

/**
 * What a route needs besides a permission: `public` (no caller at all: health probes, login, the
 * WebSocket hub which checks its own callers on connect), `signed-in` (any user or the admin token:
 * one's own session and personal tokens), `graphql` (decided per field by the GraphQL tables below).
 */
export type Requirement = Permission | 'public' | 'signed-in' | 'graphql';

const READ: Permission[] = ['node.read', 'registry.read', 'proxy.read', 'deploy.read', 'storage.read', 'broadcast.read', 'audit.read'];
const DEPLOY: Permission[] = ['registry.write', 'deploy.write', 'storage.write', 'broadcast.publish'];

/** Viewers read; deployers also deploy, restart, scale, publish; admins hold everything. */
export const ROLE_PERMISSIONS: Record<RoleName, readonly Permission[]> = {
  viewer: READ,
  deployer: [...READ, ...DEPLOY],
  admin: Object.keys(PERMISSIONS) as Permission[],
};

export function roleHas(role: RoleName, requirement: Requirement): boolean {
  if (requirement === 'public' || requirement === 'signed-in' || requirement === 'graphql') return true;
  return ROLE_PERMISSIONS[role].includes(requirement);
}

/** Every REST route as Fastify knows it (`METHOD /pattern`). HEAD follows GET unless listed. */
export const ROUTES: Record<string, Requirement> = {
  'GET /health': 'public',
  'GET /metrics': 'public',
  'GET /ws': 'public',
  'GET /graphql': 'graphql',
  // The web console's page and bundles: the page logs in, the API it calls is guarded (src/console/).
  'GET /': 'public',
  'GET /console': 'public',
  'GET /console/*': 'public',
  'GET /assets/*': 'public',
  'POST /graphql': 'graphql',

  'POST /auth/login': 'public',
  'POST /auth/logout': 'public',
  'GET /auth/me': 'signed-in',
  'GET /auth/tokens': 'signed-in',
  'POST /auth/tokens': 'signed-in',
  'DELETE /auth/tokens/:id': 'signed-in',
  'GET /access/table': 'node.read',
  'POST /users': 'users.manage',
  'GET /users': 'users.manage',
  'PATCH /users/:name': 'users.manage',
  'PUT /users/:name/password': 'users.manage',
  'GET /audit': 'audit.read',
  // One's own notification channels (any role); the list shows the team's and the config's too.
  'GET /notify/channels': 'signed-in',
  'POST /notify/channels': 'signed-in',
  'PATCH /notify/channels/:id': 'signed-in',
  'DELETE /notify/channels/:id': 'signed-in',
  'POST /notify/channels/:id/test': 'signed-in',
  'POST /notify/channels/:id/confirm': 'signed-in',
  'POST /notify/channels/:id/code': 'signed-in',
  'POST /notify/team-channels': 'notify.manage',
  'PATCH /notify/team-channels/:id': 'notify.manage',
  'DELETE /notify/team-channels/:id': 'notify.manage',
  'POST /notify/team-channels/:id/test': 'notify.manage',
  'POST /notify/team-channels/:id/confirm': 'notify.manage',
  'POST /notify/team-channels/:id/code': 'notify.manage',

  'POST /tokens': 'tokens.manage',
  'GET /tokens': 'tokens.manage',
  'DELETE /tokens/:id': 'tokens.manage',

  'GET /registry/health': 'node.read',
  'POST /registry/instances': 'registry.write',
  'PUT /registry/instances/:id/heartbeat': 'registry.write',
  'DELETE /registry/instances/:id': 'registry.write',
  'GET /registry/services': 'registry.read',
  'GET /registry/services/:app': 'registry.read',
  'GET /registry/routes': 'registry.read',
  'GET /registry/load': 'registry.read',
  'GET /registry/load/stream': 'registry.read',

  'GET /proxy/health': 'node.read',
  'GET /proxy/apps/:app/policy': 'proxy.read',
  'PUT /proxy/apps/:app/policy': 'proxy.manage',
  'DELETE /proxy/apps/:app/policy': 'proxy.manage',
  'POST /proxy/apps/:app/keys': 'proxy.manage',
  'GET /proxy/apps/:app/keys': 'proxy.read',
  'DELETE /proxy/apps/:app/keys/:id': 'proxy.manage',
  'GET /proxy/certificates': 'proxy.read',
  'GET /proxy/acme': 'proxy.read',
  'POST /proxy/certificates/:domain/renew': 'proxy.manage',

  'GET /deploy/health': 'node.read',
  'GET /deploy/hosts': 'deploy.read',
  'POST /deploy/apps': 'deploy.write',
  'GET /deploy/apps': 'deploy.read',
  'GET /deploy/apps/:app': 'deploy.read',
  'PUT /deploy/apps/:app': 'deploy.write',
  'DELETE /deploy/apps/:app': 'deploy.write',
  'POST /deploy/apps/:app/domains': 'deploy.write',
  'DELETE /deploy/apps/:app/domains/:domain': 'deploy.write',
  'PUT /deploy/apps/:app/env': 'deploy.write',
  'DELETE /deploy/apps/:app/env/:name': 'deploy.write',
  'PUT /deploy/apps/:app/secrets': 'deploy.secrets',
  'DELETE /deploy/apps/:app/secrets/:name': 'deploy.secrets',
  'POST /deploy/apps/:app/deploy': 'deploy.write',
  'POST /deploy/apps/:app/rollback': 'deploy.write',
  'POST /deploy/apps/:app/scale': 'deploy.write',
  'GET /deploy/apps/:app/releases': 'deploy.read',
  'GET /deploy/releases/:id': 'deploy.read',
  'POST /deploy/releases/:id/cancel': 'deploy.write',
  'GET /deploy/releases/:id/log': 'deploy.read',
  'POST /deploy/instances': 'deploy.write',
  'GET /deploy/instances': 'deploy.read',
  'GET /deploy/instances/:id': 'deploy.read',
  'POST /deploy/instances/:id/start': 'deploy.write',
  'POST /deploy/instances/:id/stop': 'deploy.write',
  'POST /deploy/instances/:id/restart': 'deploy.write',
  'DELETE /deploy/instances/:id': 'deploy.write',
  'GET /deploy/instances/:id/logs': 'deploy.read',
  'GET /deploy/audit': 'audit.read',
  // The push webhook's secret is its authentication (checked in constant time by the hook itself).
  'POST /deploy/hooks/:app': 'public',
  'GET /deploy/apps/:app/webhook': 'deploy.read',
  // Making or rotating the hook hands out a secret that deploys: managed like the app's secrets.
  'POST /deploy/apps/:app/webhook': 'deploy.secrets',
  'DELETE /deploy/apps/:app/webhook': 'deploy.secrets',

  'GET /storage/health': 'node.read',
  'PUT /storage/objects/*': 'storage.write',
  'POST /storage/objects/*': 'storage.write',
  'HEAD /storage/objects/*': 'storage.read',
  'GET /storage/objects/*': 'storage.read',
  'DELETE /storage/objects/*': 'storage.delete',
  'GET /storage/objects': 'storage.read',
  'POST /storage/uploads': 'storage.write',
  'GET /storage/uploads': 'storage.read',
  'GET /storage/uploads/:id': 'storage.read',
  'PUT /storage/uploads/:id/parts/:partNumber': 'storage.write',
  'POST /storage/uploads/:id/complete': 'storage.write',
  // Whose upload it is decides the rest (storage.controller.ts, replacing.ts mayTouchUpload).
  'DELETE /storage/uploads/:id': 'storage.write',
  'GET /storage/tail': 'storage.read',

  'GET /broadcast/health': 'node.read',
  'POST /broadcast/rooms/:room/messages': 'broadcast.publish',
  'GET /broadcast/rooms': 'broadcast.read',
  'GET /broadcast/rooms/:room/history': 'broadcast.read',
  'POST /broadcast/binlog/reset': 'broadcast.manage',
};

/** Every GraphQL root field (`Query.x`, `Mutation.x`, `Subscription.x`). */
export const GRAPHQL_FIELDS: Record<string, Exclude<Requirement, 'public' | 'graphql'>> = {
  'Query.node': 'node.read',
  'Query.me': 'signed-in',
  'Query.personalTokens': 'signed-in',
  'Mutation.createPersonalToken': 'signed-in',
  'Mutation.revokePersonalToken': 'signed-in',
  'Query.users': 'users.manage',
  'Mutation.createUser': 'users.manage',
  'Mutation.updateUser': 'users.manage',
  'Mutation.disableUser': 'users.manage',
  'Mutation.resetPassword': 'users.manage',
  'Query.auditEvents': 'audit.read',
  'Query.notifyChannels': 'signed-in',
  'Mutation.createNotifyChannel': 'signed-in',
  'Mutation.updateNotifyChannel': 'signed-in',
  'Mutation.deleteNotifyChannel': 'signed-in',
  'Mutation.testNotifyChannel': 'signed-in',
  'Mutation.confirmNotifyAddress': 'signed-in',
  'Mutation.sendNotifyAddressCode': 'signed-in',
  'Mutation.createTeamNotifyChannel': 'notify.manage',
  'Mutation.updateTeamNotifyChannel': 'notify.manage',
  'Mutation.deleteTeamNotifyChannel': 'notify.manage',
  'Mutation.testTeamNotifyChannel': 'notify.manage',
  'Mutation.confirmTeamNotifyAddress': 'notify.manage',
  'Mutation.sendTeamNotifyAddressCode': 'notify.manage',

  'Query.apiTokens': 'tokens.manage',
  'Mutation.createApiToken': 'tokens.manage',
  'Mutation.revokeApiToken': 'tokens.manage',

  'Query.services': 'registry.read',
  'Query.service': 'registry.read',
  'Query.routes': 'registry.read',
  'Subscription.routesChanged': 'registry.read',
  'Subscription.servicesChanged': 'registry.read',

  'Query.proxyPolicy': 'proxy.read',
  'Query.proxyApiKeys': 'proxy.read',
  'Query.proxyCertificates': 'proxy.read',
  'Query.proxyAcme': 'proxy.read',
  'Mutation.renewProxyCertificate': 'proxy.manage',
  'Mutation.setProxyPolicy': 'proxy.manage',
  'Mutation.createProxyApiKey': 'proxy.manage',
  'Mutation.revokeProxyApiKey': 'proxy.manage',

  'Query.hosts': 'deploy.read',
  'Query.apps': 'deploy.read',
  'Query.app': 'deploy.read',
  'Query.releases': 'deploy.read',
  'Query.instances': 'deploy.read',
  'Subscription.deployInstancesChanged': 'deploy.read',
  'Subscription.buildLog': 'deploy.read',
  'Subscription.releasesChanged': 'deploy.read',
  'Subscription.instanceLogs': 'deploy.read',
  'Mutation.createApp': 'deploy.write',
  'Mutation.updateApp': 'deploy.write',
  'Mutation.deleteApp': 'deploy.write',
  'Mutation.addDomain': 'deploy.write',
  'Mutation.removeDomain': 'deploy.write',
  'Mutation.setEnv': 'deploy.write',
  'Mutation.setSecret': 'deploy.secrets',
  'Mutation.deploy': 'deploy.write',
  'Mutation.rollback': 'deploy.write',
  'Mutation.cancelRelease': 'deploy.write',
  'Query.webhook': 'deploy.read',
  'Mutation.rotateWebhook': 'deploy.secrets',
  'Mutation.deleteWebhook': 'deploy.secrets',
  'Mutation.scale': 'deploy.write',
  'Mutation.createInstance': 'deploy.write',
  'Mutation.startInstance': 'deploy.write',
  'Mutation.stopInstance': 'deploy.write',
  'Mutation.restartInstance': 'deploy.write',
  'Mutation.removeInstance': 'deploy.write',

  'Query.objects': 'storage.read',
  'Query.object': 'storage.read',
  'Query.tailStatus': 'storage.read',
  'Subscription.tailStatusChanged': 'storage.read',
  'Mutation.deleteObject': 'storage.delete',

  'Query.rooms': 'broadcast.read',
  'Subscription.roomsChanged': 'broadcast.read',
  'Query.binlogStatus': 'broadcast.read',
};

/** The requirement of a REST route, or undefined when the table has none (the guard then refuses). */
export function routeRequirement(method: string, pattern: string): Requirement | undefined {
  return ROUTES[`${method} ${pattern}`] ?? (method === 'HEAD' ? ROUTES[`GET ${pattern}`] : undefined);
}

/** The module a route belongs to, for the audit trail: its first path segment (`/deploy/apps/:app` -> deploy). */
export function moduleOfRoute(pattern: string): string {
  return pattern.split('/')[1] || 'node';
}
