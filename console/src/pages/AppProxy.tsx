import { useEffect, useState } from 'preact/hooks';
import { gql } from '../api.js';
import { useT } from '../i18n.js';
import { PERM } from '../perms.js';
import { Act, Field, FormError, Loaded, NeedsModule, useAction, useQuery } from '../ui.js';

/** The policy as GraphQL gives it; `jwt` and `hsts` are JSON text, the HS256 secret in `jwt` shown as "[redacted]". */
interface Policy {
  balancer: string;
  hashQuery: boolean;
  auth: string;
  jwt: string | null;
  tls: string;
  redirectHttp: boolean;
  hsts: string | null;
}

interface Key {
  id: string;
  name: string;
  hint: string;
  createdAt: string;
  revokedAt: string | null;
  key?: string | null;
}

const BALANCERS = ['random', 'ip-hash', 'url-hash', 'least-load'];

/** An app's policy at the proxy: balancer, auth, API keys (GraphQL proxyPolicy / setProxyPolicy / *ProxyApiKey). */
export function AppProxy({ app }: { app: string }) {
  return (
    <NeedsModule module="proxy">
      <PolicyForm app={app} />
      <ApiKeys app={app} />
    </NeedsModule>
  );
}

function PolicyForm({ app }: { app: string }) {
  const t = useT();
  const current = useQuery<{ proxyPolicy: Policy }>('query ($app: String!) { proxyPolicy(app: $app) { balancer hashQuery auth jwt tls redirectHttp hsts } }', { app });
  const [policy, setPolicy] = useState<Policy | null>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => setPolicy(current.data?.proxyPolicy ?? null), [current.data]);
  const save = useAction(async () => {
    // setProxyPolicy replaces the whole policy: what this form does not edit (HTTPS, the jwt settings while
    // another auth is chosen) goes back as it came. A "[redacted]" secret keeps the stored one.
    const { balancer, hashQuery, auth, jwt, tls, redirectHttp, hsts } = policy!;
    const body = { balancer, hashQuery, auth, tls, redirectHttp, ...(jwt ? { jwt: JSON.parse(jwt) } : {}), ...(hsts ? { hsts: JSON.parse(hsts) } : {}) };
    await gql('mutation ($app: String!, $policy: String!) { setProxyPolicy(app: $app, policy: $policy) { balancer } }', { app, policy: JSON.stringify(body) });
    setSaved(true);
    current.reload();
  });
  return (
    <section class="card" data-testid="proxy-policy">
      <h2>{t('proxy.policy')}</h2>
      <Loaded query={current}>
        {() => policy && (
          <form onSubmit={(event) => (event.preventDefault(), setSaved(false), void save.submit())}>
            <Field label={t('proxy.balancer')} name="policy.balancer" error={save.error}>
              <select name="balancer" value={policy.balancer} onChange={(event) => setPolicy({ ...policy, balancer: event.currentTarget.value })}>
                {BALANCERS.map((name) => <option key={name} value={name}>{name}</option>)}
              </select>
            </Field>
            <label class="check"><input type="checkbox" name="hashQuery" checked={policy.hashQuery} onChange={(event) => setPolicy({ ...policy, hashQuery: event.currentTarget.checked })} /> {t('proxy.hashQuery')}</label>
            <Field label={t('proxy.auth')} name="policy.auth" error={save.error}>
              <select name="auth" value={policy.auth} onChange={(event) => setPolicy({ ...policy, auth: event.currentTarget.value })}>
                <option value="none">none</option><option value="api-key">api-key</option><option value="jwt">jwt</option>
              </select>
            </Field>
            {policy.auth === 'jwt' ? (
              <Field label={t('proxy.jwt')} name="policy.jwt" error={save.error}>
                <textarea name="jwt" value={policy.jwt ?? ''} onInput={(event) => setPolicy({ ...policy, jwt: event.currentTarget.value })} placeholder='{"algorithms":["HS256"],"secret":"..."}' />
              </Field>
            ) : null}
            <FormError error={save.error} fields={['policy.balancer', 'policy.auth', 'policy.jwt']} />
            <Act perm={PERM.proxyPolicy} type="submit" busy={save.busy}>{t('action.save')}</Act>
            {saved ? <span class="ok" role="status">{t('state.saved')}</span> : null}
          </form>
        )}
      </Loaded>
    </section>
  );
}

function ApiKeys({ app }: { app: string }) {
  const t = useT();
  const keys = useQuery<{ proxyApiKeys: Key[] }>('query ($app: String!) { proxyApiKeys(app: $app) { id name hint createdAt revokedAt } }', { app });
  const [name, setName] = useState('');
  const [created, setCreated] = useState<string | null>(null);
  const create = useAction(async () => {
    const answer = await gql<{ createProxyApiKey: Key }>('mutation ($app: String!, $name: String!) { createProxyApiKey(app: $app, name: $name) { key } }', { app, name: name || 'key' });
    setCreated(answer.createProxyApiKey.key ?? null);
    setName('');
    keys.reload();
  });
  const revoke = useAction((id: string) => gql('mutation ($app: String!, $id: String!) { revokeProxyApiKey(app: $app, id: $id) { id } }', { app, id }).then(keys.reload));
  return (
    <section class="card" data-testid="api-keys">
      <h2>{t('proxy.keys')}</h2>
      <form class="inline" onSubmit={(event) => (event.preventDefault(), void create.submit())}>
        <Field label={t('col.name')} name="name" error={create.error}><input name="keyName" value={name} onInput={(event) => setName(event.currentTarget.value)} /></Field>
        <Act perm={PERM.proxyPolicy} type="submit" busy={create.busy}>{t('action.createKey')}</Act>
      </form>
      <FormError error={create.error ?? revoke.error} fields={['name']} />
      {created ? <p class="once" role="status">{t('proxy.keyOnce')} <code data-testid="new-key">{created}</code></p> : null}
      <Loaded query={keys} empty={(data) => data.proxyApiKeys.length === 0}>
        {(data) => (
          <table>
            <thead><tr><th>{t('col.name')}</th><th>{t('proxy.hint')}</th><th>{t('col.created')}</th><th /></tr></thead>
            <tbody>
              {data.proxyApiKeys.map((key) => (
                <tr key={key.id} data-key-id={key.id}>
                  <td>{key.name}</td><td><code>{key.hint}…</code></td><td>{new Date(key.createdAt).toLocaleString()}</td>
                  <td>{key.revokedAt ? <span class="badge stopped">{t('proxy.revoked')}</span> : <Act perm={PERM.proxyPolicy} busy={revoke.busy} onClick={() => void revoke.submit(key.id)}>{t('action.revoke')}</Act>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loaded>
    </section>
  );
}
