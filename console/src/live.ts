import { useEffect, useState } from 'preact/hooks';
import { loadSession } from './session.js';

/**
 * GraphQL subscriptions over one WebSocket (protocol graphql-transport-ws, which
 * Mercurius speaks at /graphql). The browser sends the session cookie with the
 * upgrade; the server checks it like any request. Reconnects with backoff and
 * resubscribes; each subscription's first message is the current state.
 */

/** The server closed the socket because the caller changed (logout, disabled, new role): who am I now? */
const CLOSE_CALLER_CHANGED = 4401;
type Listener = { query: string; variables: Record<string, unknown>; next(data: unknown): void; error(message: string): void; complete?(): void };

const listeners = new Map<string, Listener>();
let socket: WebSocket | null = null;
let ready = false;
let nextId = 1;
let retry = 0;
let retryTimer: ReturnType<typeof setTimeout> | undefined;

function send(frame: unknown): void {
  if (socket && ready) socket.send(JSON.stringify(frame));
}

function connect(): void {
  if (socket) return;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
  const ws = new WebSocket(url, 'graphql-transport-ws');
  socket = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
  ws.onmessage = (event) => {
    const frame = JSON.parse(event.data as string) as { type: string; id?: string; payload?: unknown };
    if (frame.type === 'connection_ack') {
      ready = true;
      retry = 0;
      for (const [id, listener] of listeners) send({ id, type: 'subscribe', payload: { query: listener.query, variables: listener.variables } });
    } else if (frame.type === 'ping') {
      send({ type: 'pong' });
    } else if (frame.type === 'next' && frame.id) {
      const payload = frame.payload as { data?: unknown; errors?: { message: string }[] };
      const listener = listeners.get(frame.id);
      if (payload.errors?.length) listener?.error(payload.errors[0].message);
      else listener?.next(payload.data);
    } else if (frame.type === 'complete' && frame.id) {
      listeners.get(frame.id)?.complete?.();
      listeners.delete(frame.id);
    } else if (frame.type === 'error' && frame.id) {
      listeners.get(frame.id)?.error((frame.payload as { message: string }[])[0]?.message ?? 'subscription failed');
    }
  };
  ws.onclose = (event) => {
    socket = null;
    ready = false;
    // Logged out elsewhere: the login page; a new role: its permissions (the controls follow them).
    if (event.code === CLOSE_CALLER_CHANGED) void loadSession();
    if (listeners.size === 0) return;
    for (const listener of listeners.values()) listener.error('live updates disconnected; reconnecting');
    retry = Math.min(retry + 1, 6);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, 250 * 2 ** retry * (0.5 + Math.random() / 2));
  };
}

/** Subscribes; `complete` runs when the server ends the stream (a build log, a stopped container's output). Returns the unsubscribe. */
export function subscribe(query: string, variables: Record<string, unknown>, next: (data: unknown) => void, error: (message: string) => void, complete?: () => void): () => void {
  const id = String(nextId++);
  listeners.set(id, { query, variables, next, error, complete });
  if (!socket) connect();
  else send({ id, type: 'subscribe', payload: { query, variables } });
  return () => {
    listeners.delete(id);
    send({ id, type: 'complete' });
    if (listeners.size === 0 && socket) {
      socket.close(1000);
      socket = null;
      ready = false;
    }
  };
}

export interface Live<T> {
  data: T | null;
  error: string | null;
}

/** The latest result of a subscription, for a component. */
export function useSubscription<T>(query: string, variables: Record<string, unknown> = {}, enabled = true): Live<T> {
  const [state, setState] = useState<Live<T>>({ data: null, error: null });
  const key = JSON.stringify(variables);
  useEffect(() => {
    if (!enabled) return;
    return subscribe(query, variables, (data) => setState({ data: data as T, error: null }), (error) => setState((old) => ({ data: old.data, error })));
  }, [query, key, enabled]);
  return state;
}
