import { useEffect, useState } from 'preact/hooks';
import { type ApiError, gql } from './api.js';

export interface AuditEvent {
  id: string;
  at: string;
  actor: string;
  module: string;
  action: string;
  target: string;
  outcome: string;
  address: string | null;
}

export interface AuditFilter {
  module?: string;
  actor?: string;
  action?: string;
  limit: number;
  offset: number;
}

const QUERY = 'query ($filter: AuditFilter) { auditEvents(filter: $filter) { id at actor module action target outcome address } }';

/** The one audit trail, newest first. */
export async function auditEvents(filter: AuditFilter): Promise<AuditEvent[]> {
  return (await gql<{ auditEvents: AuditEvent[] }>(QUERY, { filter })).auditEvents;
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
