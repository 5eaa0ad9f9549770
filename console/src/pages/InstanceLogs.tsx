import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { useT } from '../i18n.js';
import { subscribe } from '../live.js';
import { Failed } from '../ui.js';

/** The last lines the panel keeps; older ones scroll away. */
const MAX_LINES = 1000;
const TAIL = 200;
const LOGS_SUBSCRIPTION = 'subscription ($id: String!, $tail: Int) { instanceLogs(id: $id, tail: $tail) { lines { stream at text } dropped } }';

interface Line {
  number: number;
  stream: 'stdout' | 'stderr';
  at: string;
  text: string;
}

interface Chunk {
  lines: Omit<Line, 'number'>[];
  dropped: number;
}

/**
 * An instance's container output, live (subscription instanceLogs): the last lines, then each new
 * one; stderr marked. It keeps to the newest line until the person scrolls up, and again once they
 * scroll back to the bottom. One panel follows one container: a restart (a new container) opens a new one.
 */
export function InstanceLogs({ instance, onClose }: { instance: string; onClose(): void }) {
  const t = useT();
  const [lines, setLines] = useState<Line[]>([]);
  const [dropped, setDropped] = useState(0);
  const [ended, setEnded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [pinned, setPinned] = useState(true);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let counted = 0;
    // After an error the client subscribes again, and the stream starts over with its tail.
    let restart = false;
    return subscribe(LOGS_SUBSCRIPTION, { id: instance, tail: TAIL }, (data) => {
      const chunk = (data as { instanceLogs: Chunk }).instanceLogs;
      const numbered = chunk.lines.map((line) => ({ ...line, number: counted++ }));
      setLines((old) => (restart ? numbered : [...old, ...numbered]).slice(-MAX_LINES));
      if (chunk.dropped) setDropped((old) => old + chunk.dropped);
      restart = false;
      setError(null);
    }, (message) => {
      restart = true;
      setError(message);
    }, () => setEnded(true));
  }, [instance]);
  useLayoutEffect(() => {
    if (pinned && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines, pinned]);
  const onScroll = () => {
    const element = box.current!;
    setPinned(element.scrollTop + element.clientHeight >= element.scrollHeight - 4);
  };
  return (
    <div class="logs" data-instance-logs={instance} data-ended={String(ended)} data-pinned={String(pinned)}>
      <h3>
        {t('logs.title', { id: instance })} <span class={`badge ${ended ? 'stopped' : 'running'}`}>{t(ended ? 'logs.ended' : 'logs.live')}</span>{' '}
        <button type="button" onClick={onClose}>{t('action.close')}</button>
      </h3>
      {error ? <Failed error={error} /> : null}
      {dropped ? <p class="muted">{t('logs.dropped', { count: dropped })}</p> : null}
      <div class="output" ref={box} onScroll={onScroll} role="log" aria-live="off">
        {lines.length === 0 ? <span class="muted">{error ? '' : '…'}</span> : lines.map((line) => (
          <div key={line.number} class={line.stream} data-stream={line.stream} title={line.at}>{line.text}</div>
        ))}
      </div>
      {pinned ? null : <button type="button" class="latest" onClick={() => setPinned(true)}>{t('logs.latest')}</button>}
    </div>
  );
}
