/** The permissions the console checks before offering an action (names from the server's permission table). */
export const PERM = {
  publish: 'broadcast.publish',
  storageWrite: 'storage.write',
  storageDelete: 'storage.delete',
  proxyPolicy: 'proxy.manage',
  deploy: 'deploy.write',
  secrets: 'deploy.secrets',
  instances: 'deploy.write',
  users: 'users.manage',
  tokens: 'tokens.manage',
  notify: 'notify.manage',
} as const;
