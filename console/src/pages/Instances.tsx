import { useEffect, useRef, useState } from 'preact/hooks';
import { gql } from '../api.js';
import { useT } from '../i18n.js';
import { useSubscription } from '../live.js';
import { PERM } from '../perms.js';
import { Act, bytes, Empty, Failed, Field, FormError, Loaded, Loading, useAction, useQuery } from '../ui.js';
import { InstanceLogs } from './InstanceLogs.js';
import { SERVICES_SUBSCRIPTION, type Load, type Service } from './Routes.js';

interface Instance {
  id: string;
  host: string;
  release: string;
  desired: string;
  generation: number;
  state: string;
  restarts: number;
  lastError: string | null;
  containerId: string | null;
}

const SAMPLES = 60;
const INSTANCES_SUBSCRIPTION = 'subscription ($app: String) { deployInstancesChanged(app: $app) { id host release desired generation state restarts lastError containerId } }';

/** The instances of an app, live: create on a host, scale, restart / stop / remove, CPU / memory / processes charts from the registry's load figures, and a container's output. */
export function Instances({ app }: { app: string }) {
  const t = useT();
  const query = useQuery<{ hosts: { name: string; state: string }[] }>('{ hosts { name state } }');
  const live = useSubscription<{ deployInstancesChanged: Instance[] }>(INSTANCES_SUBSCRIPTION, { app });
  const instances = live.data?.deployInstancesChanged;
  const loads = useLoadHistory(app);
  const [host, setHost] = useState('');
  const [count, setCount] = useState('1');
  const [logsOf, setLogsOf] = useState<string | null>(null);
  const watched = instances?.find((instance) => instance.id === logsOf);
  const act = useAction((mutation: string, id: string) =>
    gql(mutation === 'removeInstance' ? 'mutation ($id: String!) { removeInstance(id: $id) }' : `mutation ($id: String!) { ${mutation}(id: $id) { id } }`, { id }),
  );
  const create = useAction(() => gql('mutation ($app: String!, $host: String!) { createInstance(app: $app, host: $host) { id } }', { app, host: host || query.data?.hosts[0]?.name }));
  const scale = useAction(() => gql('mutation ($app: String!, $host: String!, $count: Int!) { scale(app: $app, host: $host, count: $count) { id } }', { app, host: host || query.data?.hosts[0]?.name, count: Number(count) }));
  return (
    <section class="card wide" data-testid="instances">
      <h2>{t('apps.instances')}</h2>
      <Loaded query={query}>
        {(data) => (
          <>
            <form class="inline" onSubmit={(event) => (event.preventDefault(), void create.submit())}>
              <Field label={t('col.host')} name="host" error={create.error ?? scale.error}>
                <select name="host" value={host || data.hosts[0]?.name} onChange={(event) => setHost(event.currentTarget.value)}>
                  {data.hosts.map((candidate) => <option key={candidate.name} value={candidate.name}>{candidate.name} ({candidate.state})</option>)}
                </select>
              </Field>
              <Act perm={PERM.instances} type="submit" busy={create.busy}>{t('action.addInstance')}</Act>
              <Field label={t('apps.count')} name="count" error={scale.error}><input name="count" type="number" min={0} max={64} value={count} onInput={(event) => setCount(event.currentTarget.value)} /></Field>
              <Act perm={PERM.instances} type="button" busy={scale.busy} onClick={() => void scale.submit()}>{t('action.scale')}</Act>
            </form>
            <FormError error={create.error ?? scale.error ?? act.error} fields={['host', 'count']} />
            {live.error ? <Failed error={live.error} /> : null}
            {!instances ? <Loading /> : instances.length === 0 ? <Empty /> : (
              <div class="scroll">
                <table>
                  <thead><tr><th>{t('col.instance')}</th><th>{t('col.host')}</th><th>{t('col.state')}</th><th>{t('col.cpu')}</th><th>{t('col.memory')}</th><th>{t('col.processes')}</th><th /></tr></thead>
                  <tbody>
                    {instances.map((instance) => {
                      const history = loads[instance.id] ?? [];
                      const last = history[history.length - 1];
                      return (
                        <tr key={instance.id} data-instance={instance.id} data-state={instance.state} data-generation={instance.generation}>
                          <td><code>{instance.id}</code><br /><small class="muted">{instance.release} · {t('apps.restarts', { count: instance.restarts })}</small></td>
                          <td>{instance.host}</td>
                          <td><span class={`badge ${instance.state}`}>{instance.state}</span>{instance.lastError ? <small class="error"> {instance.lastError}</small> : null}</td>
                          <td data-col="cpu">{last ? `${last.cpu.toFixed(1)}%` : '–'}<Spark values={history.map((load) => load.cpu)} /></td>
                          <td data-col="memory">{last ? bytes(last.memory) : '–'}<Spark values={history.map((load) => load.memory)} /></td>
                          <td data-col="processes">{last ? last.processes : '–'}</td>
                          <td class="actions">
                            <button type="button" data-logs={instance.id} onClick={() => setLogsOf(instance.id)}>{t('action.logs')}</button>
                            <Act perm={PERM.instances} busy={act.busy} onClick={() => void act.submit('restartInstance', instance.id)}>{t('action.restart')}</Act>
                            {instance.desired === 'running'
                              ? <Act perm={PERM.instances} busy={act.busy} onClick={() => void act.submit('stopInstance', instance.id)}>{t('action.stop')}</Act>
                              : <Act perm={PERM.instances} busy={act.busy} onClick={() => void act.submit('startInstance', instance.id)}>{t('action.start')}</Act>}
                            <Act perm={PERM.instances} busy={act.busy} onClick={() => confirm(t('apps.confirmRemove', { id: instance.id })) && void act.submit('removeInstance', instance.id)}>{t('action.remove')}</Act>
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            )}
            {watched ? <InstanceLogs key={`${watched.id}:${watched.containerId}`} instance={watched.id} onClose={() => setLogsOf(null)} /> : null}
          </>
        )}
      </Loaded>
    </section>
  );
}

/** The last SAMPLES load figures of each deploy instance of `app` (registry ids are `<instance>-<release>-<generation>`). */
function useLoadHistory(app: string): Record<string, (Load & { at: number })[]> {
  const live = useSubscription<{ servicesChanged: Service[] }>(SERVICES_SUBSCRIPTION.replace('inflight }', 'inflight at }'));
  const history = useRef<Record<string, (Load & { at: number })[]>>({});
  const [, setRound] = useState(0);
  useEffect(() => {
    const service = live.data?.servicesChanged.find((candidate) => candidate.app === app);
    if (!service) return;
    let changed = false;
    for (const instance of service.instances) {
      const load = instance.load as (Load & { at: number }) | null;
      if (!load) continue;
      const id = instance.id.replace(/-[^-]+-\d+$/, '');
      const samples = (history.current[id] ??= []);
      if (samples.length && samples[samples.length - 1].at === load.at) continue;
      samples.push(load);
      if (samples.length > SAMPLES) samples.shift();
      changed = true;
    }
    if (changed) setRound((round) => round + 1);
  }, [live.data, app]);
  return history.current;
}

/** A tiny line chart of the last figures. */
function Spark({ values }: { values: number[] }) {
  if (values.length < 2) return null;
  const max = Math.max(...values, 1e-9);
  const points = values.map((value, index) => `${(index / (SAMPLES - 1)) * 100},${20 - (value / max) * 18}`).join(' ');
  return (
    <svg class="spark" viewBox="0 0 100 20" preserveAspectRatio="none" aria-hidden="true">
      <polyline points={points} fill="none" stroke="currentColor" stroke-width="1.5" vector-effect="non-scaling-stroke" />
    </svg>
  );
}
