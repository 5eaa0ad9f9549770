import { useEffect, useState } from 'preact/hooks';
import { gql } from '../api.js';
import { useT } from '../i18n.js';
import { PERM } from '../perms.js';
import { subscribe, useSubscription } from '../live.js';
import { Act, Failed, Field, FormError, Loaded, useAction, useQuery } from '../ui.js';
import { Instances } from './Instances.js';

interface App {
  name: string;
  repository: string | null;
  defaultRef: string;
  runtime: string;
  domains: string[];
  env: { name: string; value: string }[];
  secrets: string[];
  release: string | null;
}

interface Release {
  id: string;
  ref: string;
  commit: string | null;
  status: string;
  error: string | null;
  createdAt: string;
  createdBy: string;
}

const RELEASES_SUBSCRIPTION = 'subscription ($app: String!) { releasesChanged(app: $app) { current releases { id ref commit status error createdAt createdBy } } }';

const APP_QUERY = `query ($name: String!) {
  app(name: $name) { name repository defaultRef runtime domains env { name value } secrets release }
  releases(app: $name) { id ref commit status error createdAt createdBy }
}`;

/** The deploy module's side of an app: env, secrets (write-only), deploy a ref, releases with rollback, instances. */
export function AppDeploy({ app }: { app: string }) {
  const t = useT();
  const query = useQuery<{ app: App; releases: Release[] }>(APP_QUERY, { name: app });
  return (
    <Loaded query={query}>
      {(data) => (
        <>
          <section class="card">
            <h2>{t('apps.settings')}</h2>
            <dl>
              <dt>{t('col.repository')}</dt><dd>{data.app.repository ?? '–'}</dd>
              <dt>{t('col.runtime')}</dt><dd>{data.app.runtime}</dd>
              <dt>{t('col.domains')}</dt><dd>{data.app.domains.join(', ') || '–'}</dd>
              <dt>{t('col.release')}</dt><dd>{data.app.release ?? '–'}</dd>
            </dl>
          </section>
          <Variables app={app} kind="env" names={data.app.env} onChange={query.reload} />
          <Variables app={app} kind="secret" names={data.app.secrets.map((name) => ({ name, value: '••••••' }))} onChange={query.reload} />
          <Releases app={app} defaultRef={data.app.defaultRef} releases={data.releases} current={data.app.release} onChange={query.reload} />
          <Instances app={app} />
        </>
      )}
    </Loaded>
  );
}

function Variables({ app, kind, names, onChange }: { app: string; kind: 'env' | 'secret'; names: { name: string; value: string }[]; onChange(): void }) {
  const t = useT();
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const mutation = kind === 'env' ? 'setEnv' : 'setSecret';
  const perm = kind === 'env' ? PERM.deploy : PERM.secrets;
  const set = useAction(async (variable: string, to: string | null) => {
    await gql(`mutation ($app: String!, $name: String!, $value: String) { ${mutation}(app: $app, name: $name, value: $value) { name } }`, { app, name: variable, value: to });
    setName('');
    setValue('');
    onChange();
  });
  return (
    <section class="card" data-testid={kind}>
      <h2>{t(kind === 'env' ? 'apps.env' : 'apps.secrets')}</h2>
      {kind === 'secret' ? <p class="muted">{t('apps.secretsWriteOnly')}</p> : null}
      <table>
        <tbody>
          {names.map((variable) => (
            <tr key={variable.name}><td><code>{variable.name}</code></td><td><code>{variable.value}</code></td><td><Act perm={perm} busy={set.busy} onClick={() => void set.submit(variable.name, null)}>{t('action.unset')}</Act></td></tr>
          ))}
        </tbody>
      </table>
      <form class="inline" onSubmit={(event) => (event.preventDefault(), void set.submit(name, value))}>
        <Field label={t('col.name')} name="name" error={set.error}><input name="name" value={name} onInput={(event) => setName(event.currentTarget.value)} /></Field>
        <Field label={t('apps.value')} name="value" error={set.error}>{kind === 'secret'
          ? <input name="value" type="password" autocomplete="off" value={value} onInput={(event) => setValue(event.currentTarget.value)} />
          : <input name="value" value={value} onInput={(event) => setValue(event.currentTarget.value)} />}</Field>
        <Act perm={perm} type="submit" busy={set.busy}>{t('action.set')}</Act>
      </form>
      <FormError error={set.error} fields={['name', 'value', 'env', 'secrets']} />
    </section>
  );
}

/** The app's releases, live (subscription releasesChanged): a build's state, a deploy, a rollback show as they happen. */
function Releases({ app, defaultRef, releases: loaded, current: loadedCurrent, onChange }: { app: string; defaultRef: string; releases: Release[]; current: string | null; onChange(): void }) {
  const t = useT();
  const live = useSubscription<{ releasesChanged: { current: string | null; releases: Release[] } }>(RELEASES_SUBSCRIPTION, { app });
  const releases = live.data?.releasesChanged.releases ?? loaded;
  const current = live.data ? live.data.releasesChanged.current : loadedCurrent;
  const [ref, setRef] = useState(defaultRef);
  const [log, setLog] = useState<string | null>(null);
  const deploy = useAction(async () => {
    const answer = await gql<{ deploy: { id: string } }>('mutation ($app: String!, $ref: String) { deploy(app: $app, ref: $ref) { id } }', { app, ref });
    setLog(answer.deploy.id);
    onChange();
  });
  const rollback = useAction((release: string) => gql('mutation ($app: String!, $release: String) { rollback(app: $app, release: $release) { id } }', { app, release }).then(onChange));
  return (
    <section class="card wide" data-testid="releases">
      <h2>{t('apps.releases')}</h2>
      <form class="inline" onSubmit={(event) => (event.preventDefault(), void deploy.submit())}>
        <Field label={t('apps.ref')} name="ref" error={deploy.error}><input name="ref" value={ref} onInput={(event) => setRef(event.currentTarget.value)} /></Field>
        <Act perm={PERM.deploy} type="submit" busy={deploy.busy}>{t('action.deploy')}</Act>
      </form>
      <FormError error={deploy.error ?? rollback.error} fields={['ref']} />
      {live.error ? <Failed error={live.error} /> : null}
      <div class="scroll">
        <table>
          <thead><tr><th>{t('col.release')}</th><th>{t('apps.ref')}</th><th>{t('col.state')}</th><th>{t('col.created')}</th><th /></tr></thead>
          <tbody>
            {releases.map((release) => (
              <tr key={release.id} data-release={release.id} data-current={String(release.id === current)}>
                <td><code>{release.id}</code>{release.id === current ? ' ★' : ''}</td>
                <td>{release.ref} {release.commit ? <code class="muted">{release.commit.slice(0, 8)}</code> : null}</td>
                <td><span class={`badge ${release.status}`}>{release.status}</span> {release.error ? <span class="error">{release.error}</span> : null}</td>
                <td>{new Date(release.createdAt).toLocaleString()} {release.createdBy}</td>
                <td class="actions">
                  <button onClick={() => setLog(release.id)}>{t('action.log')}</button>
                  {release.status === 'ready' && release.id !== current ? <Act perm={PERM.deploy} busy={rollback.busy} onClick={() => void rollback.submit(release.id)}>{t('action.rollback')}</Act> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {log ? <BuildLog key={log} release={log} onDone={onChange} /> : null}
    </section>
  );
}

/** A release's build log, streamed in as the build writes it (subscription buildLog). */
function BuildLog({ release, onDone }: { release: string; onDone(): void }) {
  const t = useT();
  const [text, setText] = useState('');
  const [done, setDone] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(
    () =>
      subscribe('subscription ($release: String!) { buildLog(release: $release) { text done } }', { release }, (data) => {
        const chunk = (data as { buildLog: { text: string; done: boolean } }).buildLog;
        if (chunk.text) setText((old) => old + chunk.text);
        if (chunk.done) {
          setDone(true);
          onDone();
        }
      }, setError),
    [release],
  );
  return (
    <div class="buildlog" data-build-log={release} data-done={String(done)}>
      <h3>{t('apps.buildLog', { release })} {done ? null : <span class="badge building">{t('apps.building')}</span>}</h3>
      {error && !done ? <Failed error={error} /> : null}
      <pre>{text || '…'}</pre>
    </div>
  );
}
