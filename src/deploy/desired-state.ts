import type { DesiredState } from './deploy.entity.js';

/**
 * What the API and the agents say to each other through the catalog's
 * key/value store (the embedded catalog or Consul alike). The API writes one
 * spec per instance under its host's prefix; the agent of that host writes
 * back what it sees. Secrets never go there: the agent reads the app from the
 * shared database.
 */
export interface InstanceSpec {
  id: string;
  app: string;
  release: string;
  desired: DesiredState;
  /** Bumped by a restart: a container of an older generation is replaced. */
  generation: number;
  /** The app's domains: a change reaches the agent at once, which registers the running container with them again. */
  domains?: string[];
}

export type ObservedState = 'pending' | 'building' | 'starting' | 'running' | 'unhealthy' | 'crashed' | 'stopped' | 'lost';

export interface InstanceStatus {
  state: ObservedState;
  host: string;
  release: string | null;
  generation: number;
  containerId: string | null;
  port: number | null;
  restarts: number;
  /** The last failure, with the container's last log lines when there are any. */
  lastError: string | null;
  at: number;
}

export const hostPrefix = (host: string) => `dozen/hosts/${host}/instances/`;
export const specKey = (host: string, instance: string) => `${hostPrefix(host)}${instance}`;
export const statusKey = (instance: string) => `dozen/status/${instance}`;

export function parseSpec(value: string): InstanceSpec | null {
  try {
    const spec = JSON.parse(value) as InstanceSpec;
    return typeof spec.id === 'string' && typeof spec.app === 'string' && typeof spec.release === 'string' ? spec : null;
  } catch {
    return null;
  }
}
