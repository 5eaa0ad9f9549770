import { useState } from 'preact/hooks';
import { gql } from '../api.js';
import { useT } from '../i18n.js';
import { useSubscription } from '../live.js';
import { PERM } from '../perms.js';
import { go, useStore } from '../state.js';
import { Act, Empty, Field, FormError, Loaded, Loading, nodeInfo, useAction, useQuery } from '../ui.js';
import { SERVICES_SUBSCRIPTION, type Service } from './Routes.js';

interface AppRow {
  name: string;
  repository: string | null;
  runtime: string;
  domains: string[];
  release: string | null;
}

/** Apps: the deploy module's apps when it runs here; otherwise the apps the registry knows (their proxy policy is still editable). */
export function Apps() {
  const node = useStore(nodeInfo);
  if (!node) return <Loading />;
  return node.modules.includes('deploy') ? <DeployApps /> : <RegistryApps registry={node.modules.includes('registry')} />;
}

function DeployApps() {
  const t = useT();
  const apps = useQuery<{ apps: AppRow[] }>('{ apps { name repository runtime domains release } }');
  return (
    <div class="grid">
      <section class="card wide">
        <h2>{t('apps.title')}</h2>
        <Loaded query={apps} empty={(data) => data.apps.length === 0}>
          {(data) => (
            <table>
              <thead><tr><th>{t('col.app')}</th><th>{t('col.repository')}</th><th>{t('col.runtime')}</th><th>{t('col.domains')}</th><th>{t('col.release')}</th></tr></thead>
              <tbody>
                {data.apps.map((app) => (
                  <tr key={app.name} data-app={app.name}>
                    <td><a href={`/console/apps/${app.name}`} onClick={(event) => (event.preventDefault(), go(`/apps/${app.name}`))}>{app.name}</a></td>
                    <td>{app.repository ?? '–'}</td><td>{app.runtime}</td><td>{app.domains.join(', ')}</td><td>{app.release ?? '–'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Loaded>
      </section>
      <CreateApp onCreated={apps.reload} />
    </div>
  );
}

function RegistryApps({ registry }: { registry: boolean }) {
  const t = useT();
  const live = useSubscription<{ servicesChanged: Service[] }>(SERVICES_SUBSCRIPTION, {}, registry);
  return (
    <section class="card wide">
      <h2>{t('apps.title')}</h2>
      <p class="muted">{t('apps.noDeploy')}</p>
      {!registry ? <Empty /> : !live.data ? <Loading /> : live.data.servicesChanged.length === 0 ? <Empty /> : (
        <ul class="list">
          {live.data.servicesChanged.map((service) => (
            <li key={service.app} data-app={service.app}>
              <a href={`/console/apps/${service.app}`} onClick={(event) => (event.preventDefault(), go(`/apps/${service.app}`))}>{service.app}</a> <span class="muted">{service.domains.join(', ')}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

const CREATE_FIELDS = ['name', 'repository', 'defaultRef', 'runtime', 'domains', 'port', 'healthPath'];

function CreateApp({ onCreated }: { onCreated(): void }) {
  const t = useT();
  const [form, setForm] = useState({ name: '', repository: '', defaultRef: 'main', runtime: 'nodejs', domains: '', port: '', healthPath: '/health' });
  const create = useAction(() =>
    gql('mutation ($input: CreateAppInput!) { createApp(input: $input) { name } }', {
      input: {
        name: form.name,
        repository: form.repository || null,
        defaultRef: form.defaultRef,
        runtime: form.runtime,
        domains: form.domains.split(/[\s,]+/).filter(Boolean),
        port: form.port ? Number(form.port) : null,
        healthPath: form.healthPath,
      },
    }),
  );
  const input = (name: keyof typeof form) => ({ name, value: form[name], onInput: (event: Event) => setForm({ ...form, [name]: (event.currentTarget as HTMLInputElement).value }) });
  return (
    <section class="card">
      <h2>{t('apps.create')}</h2>
      <form onSubmit={async (event) => {
        event.preventDefault();
        if (await create.submit()) {
          onCreated();
          go(`/apps/${form.name}`);
        }
      }}>
        <Field label={t('col.app')} name="name" error={create.error}><input {...input('name')} required /></Field>
        <Field label={t('col.repository')} name="repository" error={create.error}><input {...input('repository')} placeholder="https://git.example.net/team/app.git" /></Field>
        <Field label={t('apps.ref')} name="defaultRef" error={create.error}><input {...input('defaultRef')} /></Field>
        <Field label={t('col.runtime')} name="runtime" error={create.error}>
          <select {...input('runtime')}><option value="nodejs">nodejs</option><option value="image">image</option></select>
        </Field>
        <Field label={t('col.domains')} name="domains" error={create.error}><input {...input('domains')} placeholder="app.example.com" /></Field>
        <Field label={t('apps.port')} name="port" error={create.error}><input {...input('port')} inputMode="numeric" /></Field>
        <Field label={t('apps.healthPath')} name="healthPath" error={create.error}><input {...input('healthPath')} /></Field>
        <FormError error={create.error} fields={CREATE_FIELDS} />
        <Act perm={PERM.deploy} type="submit" busy={create.busy}>{t('action.create')}</Act>
      </form>
    </section>
  );
}
