// Storage: what the server keeps on disk (GET /api/storage/list): data files
// per shard with their kind, LSM level and size; backups (create full or
// incremental, verify, download as a tar, delete); the WAL archive. Every
// file or folder downloads through GET /api/storage/download as a tar.

import { useMemo, useState } from 'react';
import { api, ApiError, download } from '../api';
import { Badge, confirmAction, DataGrid, EmptyState, ErrorNote, Field, formatBytes, formatNumber, formatTime, Loading, PageHeader, Pager, Panel, Stat, Tabs, type Column } from '../components';
import { useAction, useApi } from '../hooks';
import { setQueryParams, useQueryParam } from '../router';
import './Storage.css';

type DataFile = { path: string; bytes: number; shard: number | null; kind: string; level: number | null };
type Backup = {
  id: string;
  path: string;
  commit_ts: number;
  created_at: string;
  incremental: boolean;
  base: string | null;
  files: number;
  bytes: number;
  copied_bytes?: number;
  duration_ms?: number;
  storage_path?: string;
};
type ArchiveFile = { path: string; shard: number; bytes: number };
type StorageList = { roots: { name: string; path: string }[]; backups: Backup[]; wal_archive: ArchiveFile[]; data_files: DataFile[] };
type Verified = { id: string; ok: boolean; files: number; bytes: number; problems: { file: string; problem: string }[] };

type Tab = 'files' | 'backups' | 'wal';
const TABS: { id: Tab; label: string }[] = [
  { id: 'files', label: 'Data files' },
  { id: 'backups', label: 'Backups' },
  { id: 'wal', label: 'WAL archive' },
];

const sum = (xs: readonly { bytes: number }[]): number => xs.reduce((n, x) => n + x.bytes, 0);
const baseName = (path: string): string => path.split('/').filter((p) => p !== '').join('_');

export default function StorageSection() {
  const [tabParam, setTab] = useQueryParam('tab', 'files');
  const tab: Tab = TABS.some((t) => t.id === tabParam) ? (tabParam as Tab) : 'files';
  const list = useApi<StorageList>('/api/storage/list');
  const fetched = useAction();
  const data = list.data;
  const roots = data?.roots ?? [];
  const root = (name: string): string | undefined => roots.find((r) => r.name === name)?.path;

  const saveTar = (path: string): void => {
    void fetched.run(
      () => download('/api/storage/download', { path }, `${baseName(path)}.tar`),
      (bytes) => `Downloaded ${path} (${formatBytes(bytes)} tar)`,
    );
  };

  return (
    <>
      <PageHeader
        title="Storage"
        description={root('data') === undefined ? 'Data files, backups and the WAL archive.' : <>Data files, backups and the WAL archive of <code>{root('data')}</code>.</>}
        actions={
          <button type="button" className="button" onClick={list.reload} disabled={list.loading} aria-busy={list.loading}>
            {list.loading ? 'Refreshing…' : 'Refresh'}
          </button>
        }
      />
      {data === undefined ? (
        list.loading ? <Loading label="Listing the storage…" /> : <ErrorNote error={list.error} />
      ) : (
        <div className="cards">
          <Stat label="Data on disk" value={formatBytes(sum(data.data_files))} hint={`${formatNumber(data.data_files.length)} files`} />
          <Stat label="SST tables" value={formatNumber(data.data_files.filter((f) => f.kind === 'sst').length)} hint={formatBytes(sum(data.data_files.filter((f) => f.kind === 'sst')))} />
          <Stat label="WAL on disk" value={formatBytes(sum(data.data_files.filter((f) => f.kind === 'wal')))} hint={`${data.data_files.filter((f) => f.kind === 'wal').length} segments`} />
          <Stat label="Backups" value={root('backups') === undefined ? 'off' : formatNumber(data.backups.length)} hint={root('backups') === undefined ? 'no --backup-dir' : formatBytes(sum(data.backups))} />
          <Stat label="WAL archive" value={root('wal_archive') === undefined ? 'off' : formatBytes(sum(data.wal_archive))} hint={root('wal_archive') === undefined ? 'no --wal-archive' : `${data.wal_archive.length} segments`} />
        </div>
      )}
      <Tabs label="Storage views" tabs={TABS} value={tab} onChange={(t) => setTab(t, true)} />
      {fetched.busy && <Loading label="Preparing the download (a tar stream from the server)…" />}
      {tab === 'files' && data !== undefined && <DataFiles files={data.data_files} onDownload={saveTar} busy={fetched.busy} />}
      {tab === 'backups' && <Backups onChanged={list.reload} onDownload={saveTar} busy={fetched.busy} />}
      {tab === 'wal' && data !== undefined && <WalArchive dir={root('wal_archive')} files={data.wal_archive} onDownload={saveTar} busy={fetched.busy} />}
    </>
  );
}

// ---- data files ------------------------------------------------------------------------

type ShardSummary = { shard: string; wal: DataFile[]; levels: Map<number, DataFile[]>; unleveled: DataFile[]; segments: DataFile[]; other: DataFile[]; all: DataFile[] };
const PAGE_SIZE = 50;

function summarize(files: readonly DataFile[]): { rows: ShardSummary[]; maxLevel: number } {
  const byShard = new Map<string, ShardSummary>();
  let maxLevel = -1;
  for (const f of files) {
    const shard = f.shard === null ? 'router' : String(f.shard);
    let s = byShard.get(shard);
    if (s === undefined) byShard.set(shard, (s = { shard, wal: [], levels: new Map(), unleveled: [], segments: [], other: [], all: [] }));
    s.all.push(f);
    if (f.kind === 'wal') s.wal.push(f);
    else if (f.kind === 'sst' && f.level !== null) {
      maxLevel = Math.max(maxLevel, f.level);
      s.levels.set(f.level, [...(s.levels.get(f.level) ?? []), f]);
    } else if (f.kind === 'sst') s.unleveled.push(f);
    else if (f.kind === 'segment') s.segments.push(f);
    else s.other.push(f);
  }
  const rows = [...byShard.values()].sort((a, b) => (a.shard === 'router' ? 1 : b.shard === 'router' ? -1 : Number(a.shard) - Number(b.shard)));
  return { rows, maxLevel };
}

function Cell({ files }: { files: readonly DataFile[] | undefined }) {
  if (files === undefined || files.length === 0) return <span className="muted">–</span>;
  return (
    <span className="size-cell">
      {formatBytes(sum(files))} <span className="muted">· {files.length}</span>
    </span>
  );
}

function DataFiles({ files, onDownload, busy }: { files: readonly DataFile[]; onDownload: (path: string) => void; busy: boolean }) {
  const [shard] = useQueryParam('shard', '');
  const [kind] = useQueryParam('kind', '');
  const [pageText, setPage] = useQueryParam('page', '1');
  const page = Math.max(1, Number(pageText) || 1);
  const { rows, maxLevel } = useMemo(() => summarize(files), [files]);
  const levels = Array.from({ length: maxLevel + 1 }, (_, i) => i);
  const kinds = [...new Set(files.map((f) => f.kind))].sort();
  const shown = files
    .filter((f) => shard === '' || (shard === 'router' ? f.shard === null : String(f.shard) === shard))
    .filter((f) => kind === '' || f.kind === kind)
    .sort((a, b) => a.path.localeCompare(b.path));
  const pageRows = shown.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
  const summaryColumns: Column<ShardSummary>[] = [
    { key: 'shard', label: 'Shard', render: (r) => (r.shard === 'router' ? <span>router files</span> : <span>shard {r.shard}</span>) },
    { key: 'wal', label: 'WAL', numeric: true, render: (r) => <Cell files={r.wal} /> },
    ...levels.map((l): Column<ShardSummary> => ({ key: `L${l}`, label: `L${l}`, numeric: true, render: (r) => <Cell files={r.levels.get(l)} /> })),
    ...(rows.some((r) => r.unleveled.length > 0) ? [{ key: 'unleveled', label: 'SST (no level yet)', numeric: true, render: (r: ShardSummary) => <Cell files={r.unleveled} /> }] : []),
    { key: 'segments', label: 'Table segments', numeric: true, render: (r) => <Cell files={r.segments} /> },
    { key: 'other', label: 'Other', numeric: true, render: (r) => <Cell files={r.other} /> },
    { key: 'total', label: 'Total', numeric: true, render: (r) => <strong>{formatBytes(sum(r.all))}</strong> },
  ];
  return (
    <>
      <Panel title="Per shard and LSM level">
        {files.length === 0 ? (
          <EmptyState title="The data directory is empty">Write some keys, documents or rows; the files appear here as the shards write them.</EmptyState>
        ) : (
          <>
            <DataGrid caption="Bytes and file counts per shard: the WAL, each LSM level, columnar table segments and other files" columns={summaryColumns} rows={rows} rowKey={(r) => r.shard} onRowClick={(r) => setQueryParams({ shard: r.shard, page: null })} selectedKey={shard} />
            <p className="muted small-note">
              Each cell: bytes · files. {levels.length === 0 ? 'No SST table yet: the shards flush their memtables to L0 as data grows.' : 'L0 holds freshly flushed tables; compaction moves data down the levels.'} Select a row to list its files.
            </p>
          </>
        )}
      </Panel>
      <Panel title="Files">
        <div className="toolbar">
          <Field label="Shard">
            <select value={shard} onChange={(e) => setQueryParams({ shard: e.target.value, page: null })}>
              <option value="">All</option>
              {rows.map((r) => (
                <option key={r.shard} value={r.shard}>
                  {r.shard === 'router' ? 'router files' : `shard ${r.shard}`}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Kind">
            <select value={kind} onChange={(e) => setQueryParams({ kind: e.target.value, page: null })}>
              <option value="">All</option>
              {kinds.map((k) => (
                <option key={k}>{k}</option>
              ))}
            </select>
          </Field>
          <span className="muted toolbar-note">
            {formatNumber(shown.length)} files, {formatBytes(sum(shown))}
          </span>
          {shard !== '' && shard !== 'router' && (
            <button type="button" className="button" disabled={busy} onClick={() => onDownload(`data/shards/${shard}`)}>
              Download shard {shard} (tar)
            </button>
          )}
        </div>
        {shown.length === 0 ? (
          <EmptyState title="No file matches">Choose another shard or kind, or clear the filters.</EmptyState>
        ) : (
          <>
            <DataGrid
              caption="Data files"
              columns={[
                { key: 'path', label: 'Path', render: (f) => <code>{f.path}</code> },
                { key: 'kind', label: 'Kind', render: (f) => <Badge tone={f.kind === 'sst' ? 'info' : f.kind === 'wal' ? 'warn' : 'neutral'}>{f.kind}</Badge> },
                { key: 'level', label: 'Level', render: (f) => (f.level === null ? '' : `L${f.level}`) },
                { key: 'shard', label: 'Shard', render: (f) => (f.shard === null ? '' : String(f.shard)) },
                { key: 'bytes', label: 'Size', numeric: true, render: (f) => formatBytes(f.bytes) },
                {
                  key: 'get',
                  label: 'Download',
                  render: (f) => (
                    <button type="button" className="button small" disabled={busy} aria-label={`Download ${f.path}`} onClick={() => onDownload(f.path)}>
                      Download
                    </button>
                  ),
                },
              ]}
              rows={pageRows}
              rowKey={(f) => f.path}
            />
            <Pager page={page} hasNext={page * PAGE_SIZE < shown.length} onPrev={() => setPage(String(page - 1))} onNext={() => setPage(String(page + 1))} label="File pages" />
          </>
        )}
      </Panel>
    </>
  );
}

// ---- backups ------------------------------------------------------------------------------

function Backups({ onChanged, onDownload, busy }: { onChanged: () => void; onDownload: (path: string) => void; busy: boolean }) {
  // Backups off is a state of the server, not a failure: shown as an explanation, not a toast.
  const backups = useApi<Backup[]>('/api/v1/backups', { toast: false });
  const create = useAction();
  const act = useAction();
  const [verified, setVerified] = useState<Record<string, Verified>>({});
  const [working, setWorking] = useState<string | null>(null);
  const disabled = backups.error instanceof ApiError && backups.error.code === 'BACKUPS_DISABLED';
  const failed = backups.error !== undefined && !disabled;
  const list = [...(backups.data ?? [])].reverse();
  const meta = backups.meta as { backup_dir?: string; next_scheduled?: string | null };

  const take = async (incremental: boolean): Promise<void> => {
    const answer = await create.run(
      () => api.post<Backup>('/api/v1/backups', { incremental }),
      (a) => `${a.data.incremental ? 'Incremental' : 'Full'} backup ${a.data.id} taken: ${a.data.files} files, ${formatBytes(a.data.bytes)}`,
    );
    if (answer !== undefined) {
      backups.reload();
      onChanged();
    }
  };
  const verify = async (b: Backup): Promise<void> => {
    setWorking(`verify:${b.id}`);
    const answer = await act.run(
      () => api.post<Verified>(`/api/v1/backups/${encodeURIComponent(b.id)}/verify`),
      (a) => (a.data.ok ? `Backup ${b.id} verified: ${a.data.files} files match the manifest` : `Backup ${b.id} has ${a.data.problems.length} problem(s)`),
    );
    setWorking(null);
    if (answer !== undefined) setVerified((v) => ({ ...v, [b.id]: answer.data }));
  };
  const remove = async (b: Backup): Promise<void> => {
    if (!(await confirmAction('Delete backup?', <>Backup <code>{b.id}</code> ({formatBytes(b.bytes)}) is removed from the backup directory. An incremental backup built on it keeps its own copy of the files it shares.</>, 'Delete backup'))) return;
    setWorking(`delete:${b.id}`);
    const answer = await act.run(() => api.delete(`/api/v1/backups/${encodeURIComponent(b.id)}`), `Backup ${b.id} deleted`);
    setWorking(null);
    // Reloaded either way: a failure (already gone) means the list was stale.
    backups.reload();
    onChanged();
    if (answer !== undefined) setVerified(({ [b.id]: _gone, ...rest }) => rest);
  };

  if (disabled) {
    return (
      <Panel title="Backups">
        <EmptyState title="Backups are off on this server">
          Start MantisDB with <code>--backup-dir DIR</code> (or <code>MANTIS_BACKUP_DIR</code>) to take online backups here. Add <code>--backup-schedule "0 3 * * *"</code> for scheduled ones and <code>--backup-keep-last N</code> for retention. Restoring is a command: <code>mantisdb restore --from &lt;backup&gt; --to &lt;empty dir&gt;</code>.
        </EmptyState>
      </Panel>
    );
  }
  return (
    <Panel
      title="Backups"
      actions={
        <>
          <button type="button" className="button primary" disabled={create.busy || failed} onClick={() => void take(false)}>
            {create.busy ? 'Taking backup…' : 'Take full backup'}
          </button>
          <button type="button" className="button" disabled={create.busy || failed || list.length === 0} onClick={() => void take(true)} title={list.length === 0 ? 'An incremental backup needs a full one to build on' : undefined}>
            Take incremental backup
          </button>
        </>
      }
    >
      {meta.backup_dir !== undefined && (
        <p className="muted small-note">
          Kept in <code>{meta.backup_dir}</code>. {meta.next_scheduled ? `Next scheduled backup: ${formatTime(meta.next_scheduled)}.` : 'No schedule (--backup-schedule).'}
        </p>
      )}
      {backups.data === undefined ? (
        backups.loading ? <Loading label="Listing backups…" /> : <ErrorNote error={backups.error} />
      ) : list.length === 0 ? (
        <EmptyState title="No backup yet">Take a full backup: it is consistent at one commit timestamp across every shard, and the server keeps serving while it runs.</EmptyState>
      ) : (
        <DataGrid
          caption="Backups, newest first"
          columns={[
            { key: 'id', label: 'Id', render: (b) => <code>{b.id}</code> },
            { key: 'created_at', label: 'Taken', render: (b) => formatTime(b.created_at) },
            { key: 'type', label: 'Type', render: (b) => (b.incremental ? <span title={`on ${b.base ?? '?'}`}><Badge tone="info">incremental</Badge></span> : <Badge>full</Badge>) },
            { key: 'files', label: 'Files', numeric: true },
            {
              key: 'bytes',
              label: 'Size',
              numeric: true,
              // An incremental backup reuses its base's files: what it copied is the interesting part.
              render: (b) => (b.incremental && b.copied_bytes !== undefined ? <span title="bytes copied by this backup / its full size">{formatBytes(b.copied_bytes)} / {formatBytes(b.bytes)}</span> : formatBytes(b.bytes)),
            },
            { key: 'commit_ts', label: 'Commit ts', numeric: true },
            {
              key: 'verified',
              label: 'Verified',
              render: (b) => {
                const v = verified[b.id];
                if (v === undefined) return <span className="muted">not checked</span>;
                return v.ok ? <Badge tone="good">ok</Badge> : <Badge tone="bad">{v.problems.length} problem(s)</Badge>;
              },
            },
            {
              key: 'actions',
              label: 'Actions',
              render: (b) => (
                <span className="actions nowrap">
                  <button type="button" className="button small" disabled={working !== null} aria-label={`Verify backup ${b.id}`} onClick={() => void verify(b)}>
                    {working === `verify:${b.id}` ? 'Verifying…' : 'Verify'}
                  </button>
                  <button type="button" className="button small" disabled={busy} aria-label={`Download backup ${b.id}`} onClick={() => onDownload(b.storage_path ?? `backups/${b.id}`)}>
                    Download
                  </button>
                  <button type="button" className="button small danger" disabled={working !== null} aria-label={`Delete backup ${b.id}`} onClick={() => void remove(b)}>
                    {working === `delete:${b.id}` ? 'Deleting…' : 'Delete'}
                  </button>
                </span>
              ),
            },
          ]}
          rows={list}
          rowKey={(b) => b.id}
        />
      )}
      {Object.values(verified)
        .filter((v) => !v.ok)
        .map((v) => (
          <div key={v.id} className="verify-problems" role="alert">
            <h3>Problems in {v.id}</h3>
            <ul>
              {v.problems.map((p) => (
                <li key={p.file}>
                  <code>{p.file}</code>: {p.problem}
                </li>
              ))}
            </ul>
          </div>
        ))}
    </Panel>
  );
}

// ---- WAL archive ----------------------------------------------------------------------------

function WalArchive({ dir, files, onDownload, busy }: { dir: string | undefined; files: readonly ArchiveFile[]; onDownload: (path: string) => void; busy: boolean }) {
  if (dir === undefined) {
    return (
      <Panel title="WAL archive">
        <EmptyState title="The WAL archive is off on this server">
          Start MantisDB with <code>--wal-archive DIR</code> to keep every retired WAL segment: with a backup, they allow a point-in-time restore (<code>mantisdb restore --from &lt;backup&gt; --to &lt;dir&gt; --until &lt;time&gt; --archive DIR</code>).
        </EmptyState>
      </Panel>
    );
  }
  const shards = [...new Set(files.map((f) => f.shard))].sort((a, b) => a - b);
  return (
    <Panel
      title="WAL archive"
      actions={
        files.length > 0 ? (
          <button type="button" className="button" disabled={busy} onClick={() => onDownload('wal_archive')}>
            Download archive (tar)
          </button>
        ) : undefined
      }
    >
      <p className="muted small-note">
        Retired WAL segments in <code>{dir}</code>, per shard: with a backup they replay to any point in time.
      </p>
      {files.length === 0 ? (
        <EmptyState title="No archived segment yet">A shard archives a WAL segment when it retires it (after a flush, or when a backup rolls the WAL).</EmptyState>
      ) : (
        <>
          <div className="cards">
            {shards.map((s) => {
              const mine = files.filter((f) => f.shard === s);
              return <Stat key={s} label={`Shard ${s}`} value={formatBytes(sum(mine))} hint={`${mine.length} segments`} />;
            })}
          </div>
          <DataGrid
            caption="Archived WAL segments"
            columns={[
              { key: 'path', label: 'Path', render: (f) => <code>{f.path}</code> },
              { key: 'shard', label: 'Shard', numeric: true },
              { key: 'bytes', label: 'Size', numeric: true, render: (f) => formatBytes(f.bytes) },
              {
                key: 'get',
                label: 'Download',
                render: (f) => (
                  <button type="button" className="button small" disabled={busy} aria-label={`Download ${f.path}`} onClick={() => onDownload(f.path)}>
                    Download
                  </button>
                ),
              },
            ]}
            rows={[...files].sort((a, b) => a.path.localeCompare(b.path))}
            rowKey={(f) => f.path}
          />
        </>
      )}
    </Panel>
  );
}

