/**
 * The Dockerfile of the `nodejs` runtime for an app that has none of its own.
 * Dependencies are installed only when package.json lists some (so an app
 * without any builds on a base image that has node but no npm). The start
 * command is `scripts.start` run by node itself when it is a plain
 * `node <args>` line (node is then PID 1 and gets SIGTERM straight), else
 * `npm start`; with no start script, npm's own default, `node server.js`.
 */
export function nodejsDockerfile(packageJson: string | null, baseImage: string): string {
  const manifest = parseManifest(packageJson);
  const hasDependencies = Object.keys(manifest.dependencies ?? {}).length > 0;
  const lines = [`FROM ${baseImage}`, 'WORKDIR /app', 'ENV NODE_ENV=production'];
  if (hasDependencies) {
    lines.push('COPY package*.json ./', 'RUN ["npm", "install", "--omit=dev", "--no-audit", "--no-fund"]');
  }
  lines.push('COPY . .', `CMD ${JSON.stringify(startCommand(manifest))}`);
  return lines.join('\n') + '\n';
}

interface Manifest {
  dependencies?: Record<string, string>;
  scripts?: Record<string, string>;
}

function parseManifest(text: string | null): Manifest {
  if (text === null) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Manifest) : {};
  } catch {
    throw new Error('package.json is not valid JSON');
  }
}

function startCommand(manifest: Manifest): string[] {
  const start = manifest.scripts?.start?.trim();
  if (!start) return ['node', 'server.js'];
  // Only words without shell syntax run without a shell; anything else goes through npm, which runs it with sh.
  if (/^node(\s+[A-Za-z0-9_./=:@-]+)*$/.test(start)) return start.split(/\s+/);
  return ['npm', 'start'];
}
