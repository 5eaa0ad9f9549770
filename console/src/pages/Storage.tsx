import { useState } from 'preact/hooks';
import { gql, objectUrl, upload } from '../api.js';
import { useT } from '../i18n.js';
import { PERM } from '../perms.js';
import { useSubscription } from '../live.js';
import { Act, bytes, Failed, Field, FormError, Loaded, Loading, NeedsModule, useAction, useQuery } from '../ui.js';

const PAGE_SIZE = 50;

interface ObjectPage {
  objects: { key: string; size: number; modified: string }[];
  nextCursor: string | null;
}

interface TailStatus {
  enabled: boolean;
  storeUp: boolean;
  lagBytes: number;
  lagSeconds: number;
  files: { path: string; objectKey: string | null; offset: number; size: number; lagBytes: number; lastError: string | null }[];
}

export function Storage() {
  return (
    <NeedsModule module="storage">
      <StoragePage />
    </NeedsModule>
  );
}

function StoragePage() {
  const t = useT();
  const [prefix, setPrefix] = useState('');
  const [typed, setTyped] = useState('');
  // The cursors of the pages before this one, to page back.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1];
  const page = useQuery<{ objects: ObjectPage }>('query ($prefix: String!, $cursor: String, $limit: Int!) { objects(prefix: $prefix, cursor: $cursor, limit: $limit) { objects { key size modified } nextCursor } }', { prefix, cursor, limit: PAGE_SIZE });
  const remove = useAction((key: string) => gql('mutation ($key: String!) { deleteObject(key: $key) }', { key }).then(page.reload));
  const browse = (next: string) => {
    setPrefix(next);
    setCursors([null]);
  };
  return (
    <div class="grid">
      <section class="card wide">
        <h2>{t('storage.objects')}</h2>
        <form class="inline" onSubmit={(event) => (event.preventDefault(), browse(typed))}>
          <Field label={t('storage.prefix')} name="prefix" error={page.error}>
            <input name="prefix" value={typed} onInput={(event) => setTyped(event.currentTarget.value)} placeholder="logs/" />
          </Field>
          <button type="submit">{t('action.browse')}</button>
        </form>
        <Upload prefix={prefix} onDone={page.reload} />
        <FormError error={remove.error} fields={[]} />
        <Loaded query={page} empty={(data) => data.objects.objects.length === 0}>
          {(data) => (
            <div class="scroll">
              <table>
                <thead><tr><th>{t('col.key')}</th><th>{t('col.size')}</th><th>{t('col.modified')}</th><th /></tr></thead>
                <tbody>
                  {data.objects.objects.map((object) => (
                    <tr key={object.key} data-key={object.key}>
                      <td>{object.key}</td>
                      <td>{bytes(object.size)}</td>
                      <td>{new Date(object.modified).toLocaleString()}</td>
                      <td class="actions">
                        <a href={objectUrl(object.key)} download={object.key.split('/').pop()}>{t('action.download')}</a>
                        <Act perm={PERM.storageDelete} busy={remove.busy} onClick={() => confirm(t('storage.confirmDelete', { key: object.key })) && remove.submit(object.key)}>{t('action.delete')}</Act>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Loaded>
        <div class="pager">
          <button disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>{t('action.previous')}</button>
          <span class="muted">{t('storage.page', { page: cursors.length })}</span>
          <button disabled={!page.data?.objects.nextCursor} onClick={() => setCursors([...cursors, page.data!.objects.nextCursor])}>{t('action.next')}</button>
        </div>
      </section>
      <Tailer />
    </div>
  );
}

function Upload({ prefix, onDone }: { prefix: string; onDone(): void }) {
  const t = useT();
  const [file, setFile] = useState<File | null>(null);
  const [key, setKey] = useState('');
  const [progress, setProgress] = useState<number | null>(null);
  const send = useAction(async () => {
    if (!file) return;
    setProgress(0);
    await upload(key || prefix + file.name, file, setProgress);
    onDone();
  });
  return (
    <form class="inline upload" onSubmit={(event) => (event.preventDefault(), void send.submit())}>
      <Field label={t('storage.file')} name="file" error={send.error}>
        <input type="file" name="file" onChange={(event) => {
          const chosen = event.currentTarget.files?.[0] ?? null;
          setFile(chosen);
          setKey(chosen ? prefix + chosen.name : '');
          setProgress(null);
        }} />
      </Field>
      <Field label={t('col.key')} name="key" error={send.error}>
        <input name="key" value={key} onInput={(event) => setKey(event.currentTarget.value)} />
      </Field>
      <Act perm={PERM.storageWrite} type="submit" busy={send.busy} disabled={!file}>{t('action.upload')}</Act>
      {progress !== null ? <progress max={1} value={progress} aria-label={t('storage.progress')} data-progress={progress.toFixed(3)} /> : null}
      {progress !== null ? <span class="muted">{Math.round(progress * 100)}%</span> : null}
      <FormError error={send.error} fields={['file', 'key']} />
    </form>
  );
}

/** The tailer's files, offsets and lag, live (subscription tailStatusChanged). */
function Tailer() {
  const t = useT();
  const live = useSubscription<{ tailStatusChanged: TailStatus }>('subscription { tailStatusChanged { enabled storeUp lagBytes lagSeconds files { path objectKey offset size lagBytes lastError } } }');
  const data = live.data ? { tailStatus: live.data.tailStatusChanged } : null;
  return (
    <section class="card wide" data-testid="tailer">
      <h2>{t('storage.tailer')}</h2>
      {live.error ? <Failed error={live.error} /> : null}
      {!data ? (live.error ? null : <Loading />) : !data.tailStatus.enabled ? <p class="muted">{t('storage.tailerOff')}</p> : (
        <>
          <p>{t('storage.lag', { bytes: bytes(data.tailStatus.lagBytes), seconds: data.tailStatus.lagSeconds.toFixed(1) })} {data.tailStatus.storeUp ? null : <span class="badge down">{t('storage.storeDown')}</span>}</p>
          <div class="scroll">
            <table>
              <thead><tr><th>{t('col.file')}</th><th>{t('col.key')}</th><th>{t('col.offset')}</th><th>{t('col.lag')}</th></tr></thead>
              <tbody>
                {data.tailStatus.files.map((file) => (
                  <tr key={file.path} data-file={file.path} data-offset={file.offset}><td>{file.path}</td><td>{file.objectKey ?? '–'}</td><td data-col="offset">{bytes(file.offset)} / {bytes(file.size)}</td><td>{bytes(file.lagBytes)} {file.lastError ? <span class="error">{file.lastError}</span> : null}</td></tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
