import { useT } from '../i18n.js';
import { useSubscription } from '../live.js';
import { nodeInfo, Failed, Loaded, Loading, useQuery, Empty } from '../ui.js';
import { useStore } from '../state.js';
import { SERVICES_SUBSCRIPTION, type Service } from './Routes.js';
import { useAudit } from '../audit.js';

interface DeployOverview {
  hosts: { name: string; address: string; state: string; modules: string[]; lastSeenAt: string }[];
  apps: { name: string }[];
}

const DEPLOY_QUERY = '{ hosts { name address state modules lastSeenAt } apps { name } }';
const DEPLOY_INSTANCES = 'subscription { deployInstancesChanged { id state } }';

function countBy<T>(items: T[], key: (item: T) => string): [string, number][] {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return [...counts].sort();
}

export function Overview() {
  const t = useT();
  const node = useStore(nodeInfo);
  const has = (module: string) => node?.modules.includes(module) ?? false;
  const deploy = useQuery<DeployOverview>(DEPLOY_QUERY, {}, has('deploy'));
  const registry = useSubscription<{ servicesChanged: Service[] }>(SERVICES_SUBSCRIPTION, {}, has('registry'));
  const deployInstances = useSubscription<{ deployInstancesChanged: { id: string; state: string }[] }>(DEPLOY_INSTANCES, {}, has('deploy'));
  if (!node) return <Loading />;
  const registryInstances = registry.data?.servicesChanged.flatMap((service) => service.instances) ?? [];
  return (
    <div class="grid">
      <section class="card" data-testid="module-health">
        <h2>{t('overview.health')}</h2>
        <p class="muted">{t('overview.node', { host: node.host, version: node.version })}</p>
        <table>
          <tbody>
            {node.health.map((module) => (
              <tr key={module.name} data-module={module.name}>
                <td>{module.name}</td>
                <td><span class={`badge ${module.status}`}>{t(`health.${module.status}` as 'health.up')}</span></td>
                <td class="muted">{module.reason ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section class="card">
        <h2>{t('overview.hosts')}</h2>
        {has('deploy') ? (
          <Loaded query={deploy} empty={(data) => data.hosts.length === 0}>
            {(data) => (
              <table>
                <thead><tr><th>{t('col.host')}</th><th>{t('col.state')}</th><th>{t('col.modules')}</th><th>{t('col.lastSeen')}</th></tr></thead>
                <tbody>
                  {data.hosts.map((host) => (
                    <tr key={host.name}><td>{host.name}</td><td><span class={`badge ${host.state}`}>{host.state}</span></td><td>{host.modules.join(', ')}</td><td>{new Date(host.lastSeenAt).toLocaleTimeString()}</td></tr>
                  ))}
                </tbody>
              </table>
            )}
          </Loaded>
        ) : (
          <p class="muted">{node.host}: {node.modules.join(', ')}</p>
        )}
      </section>
      <section class="card">
        <h2>{t('overview.instances')}</h2>
        {has('deploy') && deploy.data ? (
          <>
            <p>{t('overview.appsCount', { count: deploy.data.apps.length })}</p>
            {deployInstances.data ? <States counts={countBy(deployInstances.data.deployInstancesChanged, (instance) => instance.state)} /> : deployInstances.error ? <Failed error={deployInstances.error} /> : <Loading />}
          </>
        ) : null}
        {has('registry') ? (
          registry.error && !registry.data ? <Failed error={registry.error} /> : registry.data ? (
            <>
              <p>{t('overview.registered', { count: registryInstances.length, apps: registry.data.servicesChanged.length })}</p>
              <States counts={countBy(registryInstances, (instance) => instance.status)} />
            </>
          ) : <Loading />
        ) : null}
        {!has('deploy') && !has('registry') ? <Empty>{t('overview.noInstances')}</Empty> : null}
      </section>
      <RecentAudit />
    </div>
  );
}

function States({ counts }: { counts: [string, number][] }) {
  if (counts.length === 0) return <Empty />;
  return (
    <ul class="states">
      {counts.map(([state, count]) => <li key={state}><span class={`badge ${state}`}>{state}</span> {count}</li>)}
    </ul>
  );
}

function RecentAudit() {
  const t = useT();
  const audit = useAudit({ limit: 10, offset: 0 });
  return (
    <section class="card wide">
      <h2>{t('overview.audit')}</h2>
      {audit.error ? <Failed error={audit.error} /> : !audit.events ? <Loading /> : audit.events.length === 0 ? <Empty /> : (
        <div class="scroll">
          <table>
            <tbody>
              {audit.events.map((event) => (
                <tr key={event.id}><td>{new Date(event.at).toLocaleString()}</td><td>{event.actor}</td><td>{event.action}</td><td>{event.target}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
