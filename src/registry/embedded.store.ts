import { In, type Repository } from 'typeorm';
import type { HealthStatus, KvEntry } from './catalog.js';
import type { EmbeddedStore, StoredInstance } from './embedded.catalog.js';
import { RegistryInstanceEntity, RegistryKvEntity } from './registry.entity.js';

/** The embedded catalog's state in dozen's database (tables registry_instances, registry_kv). */
export class DatabaseEmbeddedStore implements EmbeddedStore {
  constructor(
    private readonly instances: Repository<RegistryInstanceEntity>,
    private readonly kv: Repository<RegistryKvEntity>,
  ) {}

  async load(): Promise<{ instances: StoredInstance[]; kv: KvEntry[] }> {
    const [rows, kvRows] = await Promise.all([this.instances.find(), this.kv.find()]);
    return {
      instances: rows.map((row) => ({
        registration: {
          id: row.id, app: row.app, address: row.address, port: row.port, host: row.host,
          domains: JSON.parse(row.domains) as string[], ...(row.release ? { release: row.release } : {}),
          meta: JSON.parse(row.meta) as Record<string, string>, ttlMs: row.ttlMs, deregisterAfterMs: row.deregisterAfterMs,
        },
        status: row.status as HealthStatus,
        expiresAt: Number(row.expiresAt),
        criticalSince: row.criticalSince === null ? null : Number(row.criticalSince),
      })),
      kv: kvRows.map((row) => ({ key: row.key, value: row.value, modifyIndex: Number(row.modifyIndex) })),
    };
  }

  async saveInstance(instance: StoredInstance): Promise<void> {
    const { registration } = instance;
    await this.instances.save({
      id: registration.id, app: registration.app, address: registration.address, port: registration.port, host: registration.host,
      domains: JSON.stringify(registration.domains), release: registration.release ?? null, meta: JSON.stringify(registration.meta),
      ttlMs: registration.ttlMs, deregisterAfterMs: registration.deregisterAfterMs, status: instance.status,
      expiresAt: instance.expiresAt, criticalSince: instance.criticalSince,
    });
  }

  async saveHealth(instance: StoredInstance): Promise<void> {
    // One UPDATE: save() would first SELECT the row to diff it, which doubled a heartbeat's cost.
    await this.instances.update({ id: instance.registration.id }, { status: instance.status, expiresAt: instance.expiresAt, criticalSince: instance.criticalSince });
  }

  async deleteInstance(id: string): Promise<void> {
    await this.instances.delete({ id });
  }

  async putKv(entry: KvEntry): Promise<void> {
    await this.kv.save({ key: entry.key, value: entry.value, modifyIndex: entry.modifyIndex });
  }

  async deleteKv(keys: string[]): Promise<void> {
    await this.kv.delete({ key: In(keys) });
  }
}
