import { useT } from '../i18n.js';
import { Empty } from '../ui.js';

export function People() {
  const t = useT();
  return <section class="card"><h2>{t('nav.people')}</h2><Empty /></section>;
}
