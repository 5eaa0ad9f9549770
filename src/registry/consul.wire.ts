/** What the Consul HTTP API sends, as dozen reads it, and the conversions from it (consul.catalog.ts). */
import { EventEmitter } from 'node:events';
import { domainMetaKey, isOwnMetaKey, type CatalogInstance, type HealthStatus, type KvEntry } from './catalog.js';

/** A check as /v1/health/state/any lists it. */
export interface HealthCheck {
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[] | null;
  Status: string;
}

export interface HealthEntry {
  Service: { ID: string; Service: string; Address: string; Port: number; Meta: Record<string, string> | null };
  Checks: { Status: string; ServiceID: string }[];
}

export interface ConsulKvPair {
  Key: string;
  Value: string | null;
  ModifyIndex: number;
}

/**
 * A failed call to the agent as its status and message only. The client's own error carries the request
 * it sent, whose headers hold the ACL token: logged as it was, every failed watch wrote the token out.
 */
export function agentError(error: unknown): Error & { statusCode?: number } {
  const { message, statusCode } = (error ?? {}) as { message?: unknown; statusCode?: unknown };
  const plain: Error & { statusCode?: number } = new Error(typeof message === 'string' ? message : String(error));
  if (typeof statusCode === 'number') plain.statusCode = statusCode;
  return plain;
}

/** A context for one read that asks the client for the response too (its X-Consul-Index). */
export function responseContext(): EventEmitter {
  return Object.assign(new EventEmitter(), { includeResponse: true });
}

export function toInstance(entry: HealthEntry): CatalogInstance {
  const meta = entry.Service.Meta ?? {};
  const own = Object.fromEntries(Object.entries(meta).filter(([key]) => !isOwnMetaKey(key)));
  const domains: string[] = [];
  for (let position = 0; meta[domainMetaKey(position)]; position++) domains.push(...meta[domainMetaKey(position)]!.split(','));
  const statuses = entry.Checks.map((check) => check.Status);
  const status: HealthStatus = statuses.includes('critical') ? 'critical' : statuses.includes('warning') ? 'warning' : 'passing';
  return {
    id: entry.Service.ID,
    app: entry.Service.Service,
    address: entry.Service.Address,
    port: entry.Service.Port,
    host: meta.host ?? '',
    domains,
    ...(meta.release ? { release: meta.release } : {}),
    meta: own,
    ttlMs: Number(meta.ttl_ms ?? 0),
    deregisterAfterMs: Number(meta.deregister_after_ms ?? 0),
    status,
  };
}

export function toEntry(pair: ConsulKvPair): KvEntry {
  return { key: pair.Key, value: pair.Value ?? '', modifyIndex: pair.ModifyIndex };
}
