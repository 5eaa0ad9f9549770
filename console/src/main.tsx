import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { whenUnauthorized } from './api.js';
import { useT, type MessageKey } from './i18n.js';
import { AppDetail } from './pages/AppDetail.js';
import { Apps } from './pages/Apps.js';
import { Broadcast } from './pages/Broadcast.js';
import { LangSwitch, Login } from './pages/Login.js';
import { Notifications } from './pages/Notifications.js';
import { Overview } from './pages/Overview.js';
import { People } from './pages/People.js';
import { Routes } from './pages/Routes.js';
import { Storage } from './pages/Storage.js';
import { loadSession, logout, session } from './session.js';
import { go, route, useStore } from './state.js';
import { Failed, Loading, loadNode } from './ui.js';
import './styles.css';

const PAGES: { path: string; label: MessageKey; render(rest: string): preact.JSX.Element }[] = [
  { path: '/overview', label: 'nav.overview', render: () => <Overview /> },
  { path: '/apps', label: 'nav.apps', render: (rest) => (rest ? <AppDetail app={decodeURIComponent(rest)} /> : <Apps />) },
  { path: '/routes', label: 'nav.routes', render: () => <Routes /> },
  { path: '/broadcast', label: 'nav.broadcast', render: () => <Broadcast /> },
  { path: '/storage', label: 'nav.storage', render: () => <Storage /> },
  { path: '/people', label: 'nav.people', render: () => <People /> },
  { path: '/notifications', label: 'nav.notifications', render: () => <Notifications /> },
];

function Shell() {
  const t = useT();
  const me = useStore(session)!;
  const path = useStore(route);
  const [failure, setFailure] = useState<string | null>(null);
  useEffect(() => {
    loadNode().catch((error: Error) => setFailure(error.message));
  }, []);
  const page = PAGES.find((candidate) => path === candidate.path || path.startsWith(`${candidate.path}/`)) ?? PAGES[0];
  const rest = path.slice(page.path.length + 1);
  return (
    <div class="shell">
      <header>
        <strong class="brand">dozen</strong>
        <nav>
          {PAGES.map((candidate) => (
            <a key={candidate.path} href={`/console${candidate.path}`} class={candidate === page ? 'active' : ''} onClick={(event) => (event.preventDefault(), go(candidate.path))}>
              {t(candidate.label)}
            </a>
          ))}
        </nav>
        <span class="me" data-testid="me">{me.name} <span class="badge">{t(`role.${me.role}` as MessageKey)}</span></span>
        <LangSwitch />
        <button onClick={() => void logout()}>{t('action.logout')}</button>
      </header>
      <main data-page={page.path.slice(1)}>
        {failure ? <Failed error={failure} /> : page.render(rest)}
      </main>
    </div>
  );
}

function App() {
  const me = useStore(session);
  const [failure, setFailure] = useState<string | null>(null);
  useEffect(() => {
    whenUnauthorized(() => session.set(null));
    loadSession().catch((error: Error) => setFailure(error.message));
  }, []);
  if (failure) return <Failed error={failure} />;
  if (me === undefined) return <Loading />;
  return me === null ? <Login /> : <Shell />;
}

render(<App />, document.getElementById('app')!);
