import { useEffect, useRef, useState } from 'preact/hooks';
import { useT } from '../i18n.js';
import { useSubscription } from '../live.js';
import { Act, Empty, Failed, Field, Loading, NeedsModule, useQuery } from '../ui.js';
import { PERM } from '../perms.js';

interface Room {
  name: string;
  subscribers: number;
  seq: number;
  epoch: string;
}

interface Binlog {
  status: string;
  problem: string | null;
  advice: string | null;
  file: string | null;
  position: number | null;
}

export function Broadcast() {
  return (
    <NeedsModule module="broadcast">
      <BroadcastPage />
    </NeedsModule>
  );
}

function BroadcastPage() {
  const t = useT();
  const rooms = useSubscription<{ roomsChanged: Room[] }>('subscription { roomsChanged { name subscribers seq epoch } }');
  const binlog = useQuery<{ binlogStatus: Binlog }>('{ binlogStatus { status problem advice file position } }');
  const [open, setOpen] = useState<string | null>(null);
  const [name, setName] = useState('');
  return (
    <div class="grid">
      <section class="card">
        <h2>{t('broadcast.rooms')}</h2>
        <p class="muted">{t('live.hint')}</p>
        {rooms.error ? <Failed error={rooms.error} /> : null}
        {!rooms.data ? (rooms.error ? null : <Loading />) : rooms.data.roomsChanged.length === 0 ? <Empty /> : (
          <table>
            <thead><tr><th>{t('col.room')}</th><th>{t('col.subscribers')}</th><th>{t('col.seq')}</th><th /></tr></thead>
            <tbody>
              {rooms.data.roomsChanged.map((room) => (
                <tr key={room.name} data-room={room.name}>
                  <td>{room.name}</td><td data-col="subscribers">{room.subscribers}</td><td data-col="seq">{room.seq}</td>
                  <td><button onClick={() => setOpen(room.name)}>{t('action.open')}</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <form class="inline" onSubmit={(event) => (event.preventDefault(), name && setOpen(name.trim()))}>
          <Field label={t('broadcast.roomName')} name="room" error={null}>
            <input name="room" value={name} onInput={(event) => setName(event.currentTarget.value)} placeholder="chat.lobby" />
          </Field>
          <button type="submit">{t('action.open')}</button>
        </form>
      </section>
      <section class="card">
        <h2>{t('broadcast.binlog')}</h2>
        <button onClick={binlog.reload}>{t('action.refresh')}</button>
        {binlog.error ? <Failed error={binlog.error} /> : null}
        {binlog.data ? (
          <dl data-testid="binlog">
            <dt>{t('col.state')}</dt><dd><span class={`badge ${binlog.data.binlogStatus.status}`}>{binlog.data.binlogStatus.status}</span></dd>
            <dt>{t('broadcast.position')}</dt><dd>{binlog.data.binlogStatus.file ? `${binlog.data.binlogStatus.file}:${binlog.data.binlogStatus.position}` : '–'}</dd>
            {binlog.data.binlogStatus.problem ? <><dt>{t('broadcast.problem')}</dt><dd class="error">{binlog.data.binlogStatus.problem} {binlog.data.binlogStatus.advice ?? ''}</dd></> : null}
          </dl>
        ) : null}
      </section>
      {open ? <OpenRoom key={open} room={open} onClose={() => setOpen(null)} /> : null}
    </div>
  );
}

interface Message {
  seq: number;
  data: unknown;
  ts: number;
}

/** One room over the broadcast hub's WebSocket (/ws): its messages as they arrive, and a test publish. */
function OpenRoom({ room, onClose }: { room: string; onClose(): void }) {
  const t = useT();
  const [messages, setMessages] = useState<Message[]>([]);
  const [status, setStatus] = useState<'connecting' | 'joined' | 'closed'>('connecting');
  const [error, setError] = useState<string | null>(null);
  const [text, setText] = useState('{"hello":"world"}');
  const socket = useRef<WebSocket | null>(null);
  useEffect(() => {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    socket.current = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'join', room }));
    ws.onmessage = (event) => {
      const frame = JSON.parse(event.data as string) as { type: string; seq?: number; data?: unknown; ts?: number; message?: string };
      if (frame.type === 'joined') setStatus('joined');
      else if (frame.type === 'message') setMessages((old) => [{ seq: frame.seq!, data: frame.data, ts: frame.ts! }, ...old].slice(0, 200));
      else if (frame.type === 'error') setError(frame.message ?? 'error');
    };
    ws.onclose = () => setStatus('closed');
    return () => ws.close(1000);
  }, [room]);
  const publish = (event: Event) => {
    event.preventDefault();
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
    setError(null);
    socket.current?.send(JSON.stringify({ type: 'publish', room, data }));
  };
  return (
    <section class="card wide" data-open-room={room}>
      <h2>{t('broadcast.room', { room })} <span class={`badge ${status}`}>{t(`broadcast.${status}`)}</span></h2>
      <button onClick={onClose}>{t('action.close')}</button>
      <form class="inline" onSubmit={publish}>
        <Field label={t('broadcast.message')} name="data" error={null}>
          <input name="data" value={text} onInput={(event) => setText(event.currentTarget.value)} />
        </Field>
        <Act perm={PERM.publish} type="submit" disabled={status !== 'joined'}>{t('action.publish')}</Act>
      </form>
      {error ? <Failed error={error} /> : null}
      {messages.length === 0 ? <Empty>{t('broadcast.noMessages')}</Empty> : (
        <ol class="messages">
          {messages.map((message) => (
            <li key={message.seq} data-seq={message.seq}>
              <span class="muted">#{message.seq} {new Date(message.ts).toLocaleTimeString()}</span> <code>{JSON.stringify(message.data)}</code>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
