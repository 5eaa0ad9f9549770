import { useEffect, useState } from 'preact/hooks';
import { ApiError, gql } from './api.js';

export interface AuditEvent {
  id: string;
  at: string;
  actor: string;
  module: string | null;
  action: string;
  target: string;
  outcome: string | null;
  address: string | null;
}

export interface AuditFilter {
  module?: string;
  actor?: string;
  action?: string;
  limit: number;
  offset: number;
}

const FILTERED = 'query ($filter: AuditFilter) { auditEvents(filter: $filter) { id at actor module action target outcome address } }';
// The deploy module's own audit query, on servers where the one audit trail has not replaced it.
const DEPLOY_ONLY = 'query ($limit: Int!) { auditEvents(limit: $limit) { id at actor action target address } }';

/** Audit events through the one audit trail's filter, or through deploy's older query where that is what the server has. */
export async function auditEvents(filter: AuditFilter): Promise<AuditEvent[]> {
  try {
    return (await gql<{ auditEvents: AuditEvent[] }>(FILTERED, { filter })).auditEvents;
  } catch (error) {
    if (!(error instanceof ApiError) || !/Unknown (argument|type)/.test(error.message)) throw error;
    const events = (await gql<{ auditEvents: AuditEvent[] }>(DEPLOY_ONLY, { limit: filter.limit + filter.offset })).auditEvents;
    return events
      .map((event) => ({ ...event, module: 'deploy', outcome: null }))
      .filter((event) => (!filter.actor || event.actor === filter.actor) && (!filter.action || event.action.includes(filter.action)) && (!filter.module || filter.module === 'deploy'))
      .slice(filter.offset);
  }
}

export function useAudit(filter: AuditFilter): { events: AuditEvent[] | null; error: ApiError | null } {
  const [state, setState] = useState<{ events: AuditEvent[] | null; error: ApiError | null }>({ events: null, error: null });
  const key = JSON.stringify(filter);
  useEffect(() => {
    let current = true;
    setState({ events: null, error: null });
    auditEvents(filter).then(
      (events) => current && setState({ events, error: null }),
      (error: ApiError) => current && setState({ events: null, error }),
    );
    return () => (current = false);
  }, [key]);
  return state;
}
