import type { Logger } from 'pino';
import type { RegistryService } from '../../registry/registry.service.js';
import type { InstanceRegistration } from '../../registry/catalog.js';
import type { DockerClient } from './docker.client.js';

/** How often each registered container's TTL is renewed, with its load from the Docker stats API. */
const HEARTBEAT_MS = 1000;
export const REGISTRATION_TTL_SECONDS = 10;

/** A registration and the deploy instance and container behind it. */
export type Registration = Omit<InstanceRegistration, 'ttlMs' | 'deregisterAfterMs'> & { instance: string; containerId: string };

/**
 * The registrations this agent keeps alive: each second, for each, one stats
 * sample of its container becomes the load of a registry heartbeat (so the
 * proxy's least-load works with nothing inside the container). A heartbeat
 * the registry does not know (expired while dozen was down) registers again.
 */
export class Heartbeats {
  private readonly registrations = new Map<string, Registration>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly registry: RegistryService,
    private readonly docker: DockerClient,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.round(), HEARTBEAT_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  has(id: string): boolean {
    return this.registrations.has(id);
  }

  /** The domains `id` is registered with (undefined when it is not). */
  domainsOf(id: string): string[] | undefined {
    return this.registrations.get(id)?.domains;
  }

  async register(registration: Registration): Promise<void> {
    const { containerId: _containerId, instance: _instance, ...fields } = registration;
    await this.registry.register({ ...fields, id: registration.id, ttl: REGISTRATION_TTL_SECONDS, deregisterAfter: 60 });
    this.registrations.set(registration.id, registration);
  }

  async deregister(id: string): Promise<void> {
    this.registrations.delete(id);
    await this.registry.deregister(id).catch((error: { status?: number }) => {
      if (error.status !== 404) throw error;
    });
  }

  /** Registration ids kept for containers of `instance`. */
  ofInstance(instance: string): string[] {
    return [...this.registrations.values()].filter((registration) => registration.instance === instance).map((registration) => registration.id);
  }

  private async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await Promise.all([...this.registrations.values()].map((registration) => this.beat(registration)));
    } finally {
      this.running = false;
    }
  }

  private async beat(registration: Registration): Promise<void> {
    const load = await this.docker.stats(registration.containerId).catch(() => null);
    if (!this.registrations.has(registration.id)) return;
    try {
      await this.registry.heartbeat(registration.id, load ? { load: { ...load, inflight: 0 } } : {});
    } catch (error) {
      if ((error as { status?: number }).status !== 404) return void this.log.warn({ err: error, instance: registration.id }, 'heartbeat failed');
      // Deregistered while this heartbeat was on its way (a replaced container): it must stay gone.
      if (!this.registrations.has(registration.id)) return;
      await this.register(registration).catch((registerError: unknown) => this.log.warn({ err: registerError, instance: registration.id }, 're-registration failed'));
    }
  }
}
