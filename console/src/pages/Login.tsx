import { useState } from 'preact/hooks';
import { lang, setLang, useT } from '../i18n.js';
import { useStore } from '../state.js';
import { login } from '../session.js';
import { Field, FormError, useAction } from '../ui.js';

export function Login() {
  const t = useT();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const submit = useAction(() => login(username, password));
  return (
    <main class="login">
      <form class="card" onSubmit={(event) => (event.preventDefault(), void submit.submit())}>
        <h1>dozen</h1>
        <Field label={t('login.username')} name="username" error={submit.error}>
          <input name="username" autocomplete="username" value={username} onInput={(event) => setUsername(event.currentTarget.value)} required autofocus />
        </Field>
        <Field label={t('login.password')} name="password" error={submit.error}>
          <input name="password" type="password" autocomplete="current-password" value={password} onInput={(event) => setPassword(event.currentTarget.value)} required />
        </Field>
        <FormError error={submit.error} fields={['username', 'password']} />
        <button type="submit" disabled={submit.busy}>{t('login.submit')}</button>
        <LangSwitch />
      </form>
    </main>
  );
}

export function LangSwitch() {
  const t = useT();
  const current = useStore(lang);
  return (
    <select class="lang" aria-label={t('lang.label')} name="lang" value={current} onChange={(event) => setLang(event.currentTarget.value as 'en' | 'zh')}>
      <option value="en">English</option>
      <option value="zh">简体中文</option>
    </select>
  );
}
