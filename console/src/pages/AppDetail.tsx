import { useT } from '../i18n.js';
import { go, useStore } from '../state.js';
import { Loading, nodeInfo } from '../ui.js';
import { AppDeploy } from './AppDeploy.js';
import { AppProxy } from './AppProxy.js';

export function AppDetail({ app }: { app: string }) {
  const t = useT();
  const node = useStore(nodeInfo);
  if (!node) return <Loading />;
  return (
    <>
      <p><a href="/console/apps" onClick={(event) => (event.preventDefault(), go('/apps'))}>← {t('nav.apps')}</a></p>
      <h1 class="app-name">{app}</h1>
      <div class="grid">
        {node.modules.includes('deploy') ? <AppDeploy app={app} /> : null}
        <AppProxy app={app} />
      </div>
    </>
  );
}
