import WebSocket from 'ws';
import type { DozenProcess } from '../support/dozen-process.js';

/** How long a socket that should close may take: a deadline, not a wait. */
const CLOSE_DEADLINE_MS = 10_000;

/** An open WebSocket of a user, as the test sees it: how it ended (once it has) and a way to wait for that. */
export interface UserSocket {
  /** The close code and reason, resolved when the server (or the test) closes it. */
  closed: Promise<{ code: number; reason: string }>;
  /** The close, or `still open` after the deadline. */
  closedWithin(ms?: number): Promise<{ code: number; reason: string } | 'still open'>;
  close(): void;
}

/** The headers of a caller: a session's cookie, or a bearer token. */
export type Credentials = { cookie: string } | { authorization: string };

function userSocket(socket: WebSocket): UserSocket {
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return {
    closed,
    closedWithin: (ms = CLOSE_DEADLINE_MS) => {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'still open'>((resolve) => (timer = setTimeout(() => resolve('still open'), ms)));
      return Promise.race([closed, deadline]).finally(() => clearTimeout(timer));
    },
    close: () => socket.close(),
  };
}

/** A GraphQL subscription socket (graphql-transport-ws) on /graphql, acknowledged, with `subscribe` for more subscriptions on it. */
export interface GraphqlSocket extends UserSocket {
  /** Subscribes once more; resolves with the first answer: `next` (its data) or `error` (its first message). */
  subscribe(query: string): Promise<{ type: 'next'; data: unknown } | { type: 'error'; message: string; code?: string } | { type: 'closed' }>;
}

export async function openGraphql(dozen: DozenProcess, credentials: Credentials): Promise<GraphqlSocket> {
  const socket = new WebSocket(dozen.url.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws', { headers: credentials });
  const base = userSocket(socket);
  const answers = new Map<string, (answer: Awaited<ReturnType<GraphqlSocket['subscribe']>>) => void>();
  let nextId = 1;
  await new Promise<void>((resolve, reject) => {
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
    socket.on('error', reject);
    socket.on('unexpected-response', (_request, response) => reject(new Error(`upgrade answered ${response.statusCode}`)));
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'connection_ack') return resolve();
      const answer = answers.get(frame.id);
      answers.delete(frame.id);
      if (frame.type === 'next') answer?.({ type: 'next', data: frame.payload.data });
      else if (frame.type === 'error') answer?.({ type: 'error', message: frame.payload[0]?.message, code: frame.payload[0]?.extensions?.code });
    });
  });
  void base.closed.then(() => {
    for (const answer of answers.values()) answer({ type: 'closed' });
    answers.clear();
  });
  return {
    ...base,
    subscribe: (query) =>
      new Promise((resolve) => {
        if (socket.readyState !== WebSocket.OPEN) return resolve({ type: 'closed' });
        const id = String(nextId++);
        answers.set(id, resolve);
        socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query } }));
      }),
  };
}

/** A socket on the broadcast hub (/ws) that has joined `room`. */
export async function openHub(dozen: DozenProcess, credentials: Credentials | { token: string }, room: string): Promise<UserSocket> {
  const query = 'token' in credentials ? `?token=${encodeURIComponent(credentials.token)}` : '';
  const socket = new WebSocket(dozen.url.replace(/^http/, 'ws') + '/ws' + query, { headers: 'token' in credentials ? {} : credentials });
  const base = userSocket(socket);
  await new Promise<void>((resolve, reject) => {
    socket.on('open', () => socket.send(JSON.stringify({ type: 'join', room })));
    socket.on('error', reject);
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'joined') resolve();
      else if (frame.type === 'error') reject(new Error(`the hub refused: ${data.toString()}`));
    });
  });
  return base;
}
