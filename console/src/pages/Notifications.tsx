import { useState } from 'preact/hooks';
import { gql, type ApiError } from '../api.js';
import { useT, type MessageKey } from '../i18n.js';
import { PERM } from '../perms.js';
import { can } from '../session.js';
import { Act, Empty, Field, FormError, Loaded, useAction, useQuery } from '../ui.js';

interface Channel {
  id: string;
  scope: 'config' | 'team' | 'personal';
  name: string;
  type: string;
  target: string;
  hasSecret: boolean;
  events: string[];
  editable: boolean;
  /** Email: addresses that get nothing until the code mailed there is entered. */
  unconfirmed: string[];
}

interface Channels {
  events: string[];
  email: boolean;
  channels: Channel[];
}

const QUERY = '{ notifyChannels { events email channels { id scope name type target hasSecret events editable unconfirmed } } }';
const ROBOTS = ['webhook', 'dingtalk', 'feishu', 'wecom'];

/** Where notifications go: one's own channels, the team's (admins change them) and the config's (read-only). */
export function Notifications() {
  const t = useT();
  const query = useQuery<{ notifyChannels: Channels }>(QUERY);
  return (
    <Loaded query={query}>
      {({ notifyChannels: data }) => (
        <div class="grid">
          <ChannelList title={t('notify.mine')} testid="personal" channels={data.channels.filter((channel) => channel.scope === 'personal')} events={data.events} reload={query.reload} />
          <AddChannel scope="personal" data={data} reload={query.reload} />
          <ChannelList title={t('notify.team')} testid="team" channels={data.channels.filter((channel) => channel.scope !== 'personal')} events={data.events} reload={query.reload} />
          {can(PERM.notify) ? <AddChannel scope="team" data={data} reload={query.reload} /> : null}
        </div>
      )}
    </Loaded>
  );
}

/** The GraphQL mutation for `action` on a channel of `scope`: the team's have their own (notify.manage). */
function mutation(action: 'create' | 'update' | 'delete' | 'test', scope: Channel['scope']): string {
  const team = scope === 'team' ? 'Team' : '';
  return `${action}${team}NotifyChannel`;
}

/** Confirming an address, or mailing it a new code: the team's channels have their own mutations (notify.manage). */
function addressMutation(action: 'confirm' | 'sendCode', scope: Channel['scope']): string {
  const team = scope === 'team' ? 'Team' : '';
  return action === 'confirm' ? `confirm${team}NotifyAddress` : `send${team}NotifyAddressCode`;
}

function ChannelList({ title, testid, channels, events, reload }: { title: string; testid: string; channels: Channel[]; events: string[]; reload(): void }) {
  const t = useT();
  return (
    <section class="card wide" data-testid={testid}>
      <h2>{title}</h2>
      {channels.length === 0 ? <Empty>{t('notify.none')}</Empty> : channels.map((channel) => <ChannelRow key={channel.id} channel={channel} events={events} reload={reload} />)}
    </section>
  );
}

function ChannelRow({ channel, events, reload }: { channel: Channel; events: string[]; reload(): void }) {
  const t = useT();
  const [chosen, setChosen] = useState(channel.events);
  const [result, setResult] = useState<{ delivered: boolean; problem: string | null } | null>(null);
  const [saved, setSaved] = useState(false);
  const save = useAction(async (next: string[]) => {
    setSaved(false);
    const name = mutation('update', channel.scope);
    await gql(`mutation ($id: String!, $input: NotifyChannelChange!) { ${name}(id: $id, input: $input) { id } }`, { id: channel.id, input: { events: next } });
    setSaved(true);
  });
  const test = useAction(async () => {
    setResult(null);
    const name = mutation('test', channel.scope);
    const answer = await gql<Record<string, { delivered: boolean; problem: string | null }>>(`mutation ($id: String!) { ${name}(id: $id) { delivered problem } }`, { id: channel.id });
    setResult(answer[name]);
  });
  const remove = useAction(async () => {
    if (!confirm(t('notify.confirmRemove', { name: channel.name }))) return;
    const name = mutation('delete', channel.scope);
    await gql(`mutation ($id: String!) { ${name}(id: $id) }`, { id: channel.id });
    reload();
  });
  const toggle = (event: string, on: boolean) => {
    const next = on ? events.filter((candidate) => candidate === event || chosen.includes(candidate)) : chosen.filter((candidate) => candidate !== event);
    setChosen(next);
    void save.submit(next);
  };
  return (
    <div class="channel" data-channel={channel.name} data-scope={channel.scope}>
      <p>
        <strong>{channel.name}</strong> <span class="badge">{t(`notify.type.${channel.type}` as MessageKey)}</span> <span class="muted">{channel.target}</span>
        {channel.scope === 'config' ? <span class="muted"> · {t('notify.fromConfig')}</span> : null}
      </p>
      <fieldset class="events" disabled={!channel.editable || save.busy}>
        <legend>{t('notify.events')}</legend>
        {events.map((event) => (
          <label key={event} class="check">
            <input type="checkbox" name={event} checked={chosen.includes(event)} onChange={(change) => toggle(event, change.currentTarget.checked)} />
            {t(`event.${event}` as MessageKey)}
          </label>
        ))}
      </fieldset>
      {channel.editable ? (
        <div class="actions">
          <button data-action="test" disabled={test.busy} onClick={() => void test.submit()}>{t('notify.sendTest')}</button>
          <button data-action="remove" disabled={remove.busy} onClick={() => void remove.submit()}>{t('action.remove')}</button>
          {saved ? <span class="ok" role="status">{t('state.saved')}</span> : null}
          {result ? (
            result.delivered ? <span class="ok" role="status" data-test-result="delivered">{t('notify.delivered')}</span>
              : <span class="error" role="alert" data-test-result="failed">{t('notify.notDelivered', { problem: result.problem ?? '' })}</span>
          ) : null}
        </div>
      ) : null}
      {channel.editable ? channel.unconfirmed.map((address) => <UnconfirmedAddress key={address} channel={channel} address={address} reload={reload} />) : null}
      <FormError error={save.error ?? test.error ?? remove.error} fields={[]} />
    </div>
  );
}

/** An address of an email channel that gets nothing yet: the code from the mail sent there, or a new one. */
function UnconfirmedAddress({ channel, address, reload }: { channel: Channel; address: string; reload(): void }) {
  const t = useT();
  const [code, setCode] = useState('');
  const [sent, setSent] = useState<{ sent: boolean; problem: string | null } | null>(null);
  const confirmIt = useAction(async () => {
    const name = addressMutation('confirm', channel.scope);
    await gql(`mutation ($id: String!, $address: String!, $code: String!) { ${name}(id: $id, address: $address, code: $code) { id } }`, { id: channel.id, address, code });
    reload();
  });
  const resend = useAction(async () => {
    setSent(null);
    const name = addressMutation('sendCode', channel.scope);
    const answer = await gql<Record<string, { sent: boolean; problem: string | null }>>(`mutation ($id: String!, $address: String!) { ${name}(id: $id, address: $address) { sent problem } }`, { id: channel.id, address });
    setSent(answer[name]);
  });
  return (
    <form class="unconfirmed" data-unconfirmed={address} onSubmit={(event) => (event.preventDefault(), void confirmIt.submit())}>
      <p class="muted">{t('notify.unconfirmed', { address })}</p>
      <Field label={t('notify.code')} name="code" error={confirmIt.error}>
        <input name="code" inputMode="numeric" autocomplete="one-time-code" placeholder="1234-5678" value={code} onInput={(event) => setCode(event.currentTarget.value)} />
      </Field>
      <div class="actions">
        <button type="submit" data-action="confirm" disabled={confirmIt.busy}>{t('notify.confirm')}</button>
        <button type="button" data-action="send-code" disabled={resend.busy} onClick={() => void resend.submit()}>{t('notify.sendCode')}</button>
        {sent ? (sent.sent ? <span class="ok" role="status">{t('notify.codeSent', { address })}</span> : <span class="error" role="alert">{t('notify.notDelivered', { problem: sent.problem ?? '' })}</span>) : null}
      </div>
      <FormError error={confirmIt.error ?? resend.error} fields={['code']} />
    </form>
  );
}

function AddChannel({ scope, data, reload }: { scope: 'personal' | 'team'; data: Channels; reload(): void }) {
  const t = useT();
  const types = data.email ? ['email', ...ROBOTS] : ROBOTS;
  const empty = { name: '', type: types[0], to: '', url: '', secret: '', events: [] as string[] };
  const [form, setForm] = useState(empty);
  const create = useAction(async () => {
    const target = form.type === 'email'
      ? { to: form.to.split(/[,\s]+/).filter(Boolean) }
      : { url: form.url, ...(form.secret ? { secret: form.secret } : {}) };
    const name = mutation('create', scope);
    await gql(`mutation ($input: NotifyChannelInput!) { ${name}(input: $input) { id } }`, { input: { name: form.name, type: form.type, ...target, events: form.events } });
    setForm(empty);
    reload();
  });
  const error: ApiError | null = create.error;
  return (
    <section class="card" data-testid={`add-${scope}`}>
      <h2>{t(scope === 'team' ? 'notify.addTeam' : 'notify.addMine')}</h2>
      {data.email ? null : <p class="muted">{t('notify.noEmail')}</p>}
      <form onSubmit={(event) => (event.preventDefault(), void create.submit())}>
        <Field label={t('col.name')} name="name" error={error}><input name="name" value={form.name} onInput={(event) => setForm({ ...form, name: event.currentTarget.value })} /></Field>
        <Field label={t('notify.type')} name="type" error={error}>
          <select name="type" value={form.type} onChange={(event) => setForm({ ...form, type: event.currentTarget.value })}>
            {types.map((type) => <option key={type} value={type}>{t(`notify.type.${type}` as MessageKey)}</option>)}
          </select>
        </Field>
        {form.type === 'email' ? (
          <Field label={t('notify.addresses')} name="to" error={error}><input name="to" type="text" inputMode="email" value={form.to} onInput={(event) => setForm({ ...form, to: event.currentTarget.value })} /></Field>
        ) : (
          <>
            <Field label={t('notify.url')} name="url" error={error}><input name="url" type="url" value={form.url} onInput={(event) => setForm({ ...form, url: event.currentTarget.value })} /></Field>
            <Field label={t('notify.secret')} name="secret" error={error}><input name="secret" type="password" autocomplete="off" value={form.secret} onInput={(event) => setForm({ ...form, secret: event.currentTarget.value })} /></Field>
          </>
        )}
        <fieldset class="events">
          <legend>{t('notify.events')}</legend>
          {data.events.map((event) => (
            <label key={event} class="check">
              <input type="checkbox" name={event} checked={form.events.includes(event)}
                onChange={(change) => setForm({ ...form, events: change.currentTarget.checked ? data.events.filter((candidate) => candidate === event || form.events.includes(candidate)) : form.events.filter((candidate) => candidate !== event) })} />
              {t(`event.${event}` as MessageKey)}
            </label>
          ))}
        </fieldset>
        <FormError error={error} fields={['name', 'type', 'to', 'url', 'secret']} />
        {scope === 'team' ? <Act perm={PERM.notify} busy={create.busy} type="submit">{t('action.create')}</Act> : <button type="submit" disabled={create.busy}>{t('action.create')}</button>}
      </form>
    </section>
  );
}
