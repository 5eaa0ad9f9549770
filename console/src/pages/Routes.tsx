import { useT } from '../i18n.js';
import { useSubscription } from '../live.js';
import { bytes, Empty, Failed, Loading, NeedsModule } from '../ui.js';

export interface Load {
  cpu: number;
  memory: number;
  processes: number;
  inflight: number;
}

export interface Service {
  app: string;
  domains: string[];
  instances: { id: string; address: string; port: number; host: string; status: string; release: string | null; load: Load | null }[];
}

export const SERVICES_SUBSCRIPTION =
  'subscription { servicesChanged { app domains instances { id address port host status release load { cpu memory processes inflight } } } }';

export function Routes() {
  return (
    <NeedsModule module="registry">
      <RouteTable />
    </NeedsModule>
  );
}

function RouteTable() {
  const t = useT();
  const live = useSubscription<{ servicesChanged: Service[] }>(SERVICES_SUBSCRIPTION);
  if (live.error && !live.data) return <Failed error={live.error} />;
  if (!live.data) return <Loading />;
  const services = live.data.servicesChanged;
  return (
    <section class="card wide">
      <h2>{t('routes.title')}</h2>
      <p class="muted">{t('routes.hint')}</p>
      {live.error ? <Failed error={live.error} /> : null}
      {services.length === 0 ? <Empty>{t('routes.none')}</Empty> : null}
      {services.map((service) => (
        <div key={service.app} class="route" data-app={service.app}>
          <h3>
            {service.domains.length ? service.domains.join(', ') : t('routes.noDomain')} <span class="muted">→ {service.app}</span>
          </h3>
          <div class="scroll">
            <table>
              <thead>
                <tr><th>{t('col.instance')}</th><th>{t('col.address')}</th><th>{t('col.host')}</th><th>{t('col.health')}</th><th>{t('col.cpu')}</th><th>{t('col.memory')}</th><th>{t('col.inflight')}</th></tr>
              </thead>
              <tbody>
                {service.instances.map((instance) => (
                  <tr key={instance.id} data-instance={instance.id}>
                    <td>{instance.id}</td>
                    <td>{instance.address}:{instance.port}</td>
                    <td>{instance.host}</td>
                    <td><span class={`badge ${instance.status}`}>{instance.status}</span></td>
                    <td data-col="cpu">{instance.load ? `${instance.load.cpu.toFixed(1)}%` : '–'}</td>
                    <td>{instance.load ? bytes(instance.load.memory) : '–'}</td>
                    <td data-col="inflight">{instance.load ? instance.load.inflight : '–'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ))}
    </section>
  );
}
