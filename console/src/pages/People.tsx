import { useState } from 'preact/hooks';
import { gql } from '../api.js';
import { useT } from '../i18n.js';
import { PERM } from '../perms.js';
import { session } from '../session.js';
import { useStore } from '../state.js';
import { useAudit } from '../audit.js';
import { Act, Empty, Failed, Field, FormError, Loaded, Loading, useAction, useQuery } from '../ui.js';

interface User {
  name: string;
  role: string;
  disabled: boolean;
}

interface PersonalToken {
  id: string;
  name: string;
  expiresAt: string | null;
  createdAt: string;
  revokedAt: string | null;
}


const ROLES = ['viewer', 'deployer', 'admin'];

export function People() {
  const me = useStore(session);
  return (
    <div class="grid">
      {me?.permissions.includes(PERM.users) ? <Users /> : null}
      <Tokens />
      <Audit />
    </div>
  );
}

function Users() {
  const t = useT();
  const users = useQuery<{ users: User[] }>('{ users { name role disabled } }');
  const [form, setForm] = useState({ name: '', role: 'viewer', password: '' });
  const create = useAction(async () => {
    await gql('mutation ($name: String!, $role: String!, $password: String!) { createUser(name: $name, role: $role, password: $password) { name } }', form);
    setForm({ name: '', role: 'viewer', password: '' });
    users.reload();
  });
  const disable = useAction((name: string) => gql('mutation ($name: String!) { disableUser(name: $name) { name } }', { name }).then(users.reload));
  const reset = useAction((name: string, password: string) => gql('mutation ($name: String!, $password: String!) { resetPassword(name: $name, password: $password) { name } }', { name, password }));
  return (
    <section class="card wide" data-testid="users">
      <h2>{t('people.users')}</h2>
      <Loaded query={users} empty={(data) => data.users.length === 0}>
        {(data) => (
          <div class="scroll">
            <table>
              <thead><tr><th>{t('col.name')}</th><th>{t('people.role')}</th><th>{t('col.state')}</th><th /></tr></thead>
              <tbody>
                {data.users.map((user) => (
                  <tr key={user.name} data-user={user.name}>
                    <td>{user.name}</td><td>{t(`role.${user.role}` as 'role.admin')}</td>
                    <td>{user.disabled ? <span class="badge stopped">{t('people.disabled')}</span> : <span class="badge up">{t('people.active')}</span>}</td>
                    <td class="actions">
                      {user.disabled ? null : <Act perm={PERM.users} busy={disable.busy} onClick={() => void disable.submit(user.name)}>{t('action.disable')}</Act>}
                      <Act perm={PERM.users} busy={reset.busy} onClick={() => {
                        const password = prompt(t('people.newPassword', { name: user.name }));
                        if (password) void reset.submit(user.name, password);
                      }}>{t('action.resetPassword')}</Act>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Loaded>
      <FormError error={disable.error ?? reset.error} fields={[]} />
      <form class="inline" onSubmit={(event) => (event.preventDefault(), void create.submit())}>
        <Field label={t('col.name')} name="name" error={create.error}><input name="userName" value={form.name} onInput={(event) => setForm({ ...form, name: event.currentTarget.value })} /></Field>
        <Field label={t('people.role')} name="role" error={create.error}>
          <select name="role" value={form.role} onChange={(event) => setForm({ ...form, role: event.currentTarget.value })}>
            {ROLES.map((role) => <option key={role} value={role}>{t(`role.${role}` as 'role.admin')}</option>)}
          </select>
        </Field>
        <Field label={t('login.password')} name="password" error={create.error}><input name="userPassword" type="password" autocomplete="new-password" value={form.password} onInput={(event) => setForm({ ...form, password: event.currentTarget.value })} /></Field>
        <Act perm={PERM.users} type="submit" busy={create.busy}>{t('action.addUser')}</Act>
      </form>
      <FormError error={create.error} fields={['name', 'role', 'password']} />
    </section>
  );
}

function Tokens() {
  const t = useT();
  const tokens = useQuery<{ personalTokens: PersonalToken[] }>('{ personalTokens { id name expiresAt createdAt revokedAt } }');
  const [name, setName] = useState('');
  const [expires, setExpires] = useState('');
  const [created, setCreated] = useState<string | null>(null);
  const create = useAction(async () => {
    const answer = await gql<{ createPersonalToken: { token: string } }>('mutation ($name: String!, $expiresAt: String) { createPersonalToken(name: $name, expiresAt: $expiresAt) { token } }', {
      name,
      expiresAt: expires ? new Date(expires).toISOString() : null,
    });
    setCreated(answer.createPersonalToken.token);
    setName('');
    tokens.reload();
  });
  const revoke = useAction((id: string) => gql('mutation ($id: String!) { revokePersonalToken(id: $id) { id } }', { id }).then(tokens.reload));
  return (
    <section class="card wide" data-testid="tokens">
      <h2>{t('people.tokens')}</h2>
      <form class="inline" onSubmit={(event) => (event.preventDefault(), void create.submit())}>
        <Field label={t('col.name')} name="name" error={create.error}><input name="tokenName" value={name} onInput={(event) => setName(event.currentTarget.value)} /></Field>
        <Field label={t('people.expires')} name="expiresAt" error={create.error}><input name="expiresAt" type="date" value={expires} onInput={(event) => setExpires(event.currentTarget.value)} /></Field>
        <button type="submit" disabled={create.busy}>{t('action.createToken')}</button>
      </form>
      <FormError error={create.error ?? revoke.error} fields={['name', 'expiresAt']} />
      {created ? <p class="once" role="status">{t('people.tokenOnce')} <code data-testid="new-token">{created}</code></p> : null}
      <Loaded query={tokens} empty={(data) => data.personalTokens.length === 0}>
        {(data) => (
          <table>
            <thead><tr><th>{t('col.name')}</th><th>{t('col.created')}</th><th>{t('people.expires')}</th><th /></tr></thead>
            <tbody>
              {data.personalTokens.map((token) => (
                <tr key={token.id}>
                  <td>{token.name}</td><td>{new Date(token.createdAt).toLocaleString()}</td><td>{token.expiresAt ? new Date(token.expiresAt).toLocaleDateString() : '–'}</td>
                  <td>{token.revokedAt ? <span class="badge stopped">{t('proxy.revoked')}</span> : <button disabled={revoke.busy} onClick={() => void revoke.submit(token.id)}>{t('action.revoke')}</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loaded>
    </section>
  );
}

const AUDIT_PAGE = 50;

function Audit() {
  const t = useT();
  const [typed, setTyped] = useState({ module: '', actor: '', action: '' });
  const [filter, setFilter] = useState({ module: '', actor: '', action: '' });
  const [offset, setOffset] = useState(0);
  const audit = useAudit({ ...Object.fromEntries(Object.entries(filter).filter(([, value]) => value)), limit: AUDIT_PAGE, offset });
  const input = (name: keyof typeof typed) => ({ name, value: typed[name], onInput: (event: Event) => setTyped({ ...typed, [name]: (event.currentTarget as HTMLInputElement).value }) });
  return (
    <section class="card wide" data-testid="audit">
      <h2>{t('people.audit')}</h2>
      <form class="inline" onSubmit={(event) => (event.preventDefault(), setOffset(0), setFilter(typed))}>
        <Field label={t('people.module')} name="filter.module" error={audit.error}><input {...input('module')} /></Field>
        <Field label={t('people.actor')} name="filter.actor" error={audit.error}><input {...input('actor')} /></Field>
        <Field label={t('people.action')} name="filter.action" error={audit.error}><input {...input('action')} /></Field>
        <button type="submit">{t('action.filter')}</button>
      </form>
      {audit.error ? <Failed error={audit.error} /> : !audit.events ? <Loading /> : audit.events.length === 0 ? <Empty /> : (
          <div class="scroll">
            <table>
              <thead><tr><th>{t('people.when')}</th><th>{t('people.actor')}</th><th>{t('people.module')}</th><th>{t('col.action')}</th><th>{t('people.target')}</th><th>{t('people.outcome')}</th><th>{t('col.address')}</th></tr></thead>
              <tbody>
                {audit.events.map((event) => (
                  <tr key={event.id} data-action={event.action} data-actor={event.actor}>
                    <td>{new Date(event.at).toLocaleString()}</td><td>{event.actor}</td><td>{event.module}</td><td>{event.action}</td><td>{event.target}</td>
                    <td><span class={`badge ${event.outcome}`}>{event.outcome}</span></td><td>{event.address ?? '–'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
      )}
      <div class="pager">
        <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - AUDIT_PAGE))}>{t('action.previous')}</button>
        <button disabled={(audit.events?.length ?? 0) < AUDIT_PAGE} onClick={() => setOffset(offset + AUDIT_PAGE)}>{t('action.next')}</button>
      </div>
    </section>
  );
}
