// Key-value: keys by prefix with cursor paging (content type, size and TTL per
// key), a value shown by its content type (JSON, text, image, hex dump), and
// create, edit, expire and delete. The view lives in the URL:
// ?prefix=&limit=&cursors=&key=&view= (cursors: the next_cursor of each page
// before this one, so Previous works after a reload).

import { useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, saveBlob } from '../api';
import { Badge, confirmAction, DataGrid, EmptyState, ErrorNote, Field, formatBytes, formatNumber, JsonView, Loading, PageHeader, Panel, Pager, Tabs, type Column } from '../components';
import { useAction, useApi } from '../hooks';
import { setQueryParams, useLocation } from '../router';
import { notify } from '../toast';
import { ExpiryEditor, KeyEditor, type EditTarget } from './kv-editor';
import { AppLink, pathWith } from './kv-link';
import {
  baseType,
  decode,
  deleteKey,
  formatDuration,
  headKey,
  hexDump,
  HEX_MAX_BYTES,
  policyFor,
  readKey,
  TEXT_MAX_CHARS,
  VIEW_LABELS,
  type KeyHead,
  type PolicyRule,
  type StoredValue,
  type ViewKind,
} from './kv-store';
import './KeyValue.css';

const PAGE_SIZES = ['25', '50', '100', '250'];
const DEFAULT_LIMIT = '50';

export default function KeyValueSection() {
  const { params } = useLocation();
  const prefix = params.get('prefix') ?? '';
  const limit = PAGE_SIZES.includes(params.get('limit') ?? '') ? (params.get('limit') as string) : DEFAULT_LIMIT;
  const cursors = useMemo(() => (params.get('cursors') ?? '').split(',').filter((c) => c !== ''), [params]);
  const selected = params.get('key') ?? '';
  const [editing, setEditing] = useState<EditTarget | null>(null);
  const [generation, setGeneration] = useState(0);
  const refresh = (): void => setGeneration((g) => g + 1);

  return (
    <>
      <PageHeader
        title="Key-value"
        description="Browse keys by prefix, see each value as JSON, text, an image or hex, and create, edit, expire or delete keys."
        actions={
          <>
            <button type="button" className="button" onClick={refresh}>
              Refresh
            </button>
            <button type="button" className="button primary" onClick={() => setEditing({ mode: 'create' })}>
              New key
            </button>
          </>
        }
      />
      <div className="kv-layout">
        <KeyList prefix={prefix} limit={limit} cursors={cursors} selected={selected} generation={generation} />
        <ValuePanel
          key={selected}
          keyName={selected}
          generation={generation}
          onEdit={(target) => setEditing(target)}
          onChanged={refresh}
        />
      </div>
      {editing !== null && (
        <KeyEditor
          target={editing}
          onClose={() => setEditing(null)}
          onSaved={(answer) => {
            setEditing(null);
            if (answer.key !== selected) setQueryParams({ key: answer.key, view: null }, true);
            refresh();
          }}
        />
      )}
    </>
  );
}

// ---- the key list ---------------------------------------------------------------------------

type ListMeta = { count?: number; total?: number | null; next_cursor?: string | null };

function KeyList({ prefix, limit, cursors, selected, generation }: { prefix: string; limit: string; cursors: readonly string[]; selected: string; generation: number }) {
  const cursor = cursors.at(-1) ?? '';
  const list = useApi<string[]>('/api/v1/kv', { query: { prefix, limit, cursor } });
  const { reload } = list;
  useEffect(() => {
    if (generation > 0) reload();
  }, [generation, reload]);
  const keys = useMemo(() => list.data ?? [], [list.data]);
  const heads = useHeads(keys);
  const meta = list.meta as ListMeta;
  const [draft, setDraft] = useState(prefix);
  const typed = useRef(prefix);

  // The URL follows typing (after a pause); the field follows the URL (back, forward, links).
  useEffect(() => {
    if (prefix !== typed.current) {
      typed.current = prefix;
      setDraft(prefix);
    }
  }, [prefix]);
  useEffect(() => {
    if (draft === typed.current) return;
    const timer = setTimeout(() => {
      typed.current = draft;
      setQueryParams({ prefix: draft, cursors: null });
    }, 300);
    return () => clearTimeout(timer);
  }, [draft]);

  const page = cursors.length + 1;
  const first = (page - 1) * Number(limit) + 1;
  const link = (key: string): string => pathWith('kv', { prefix, limit: limit === DEFAULT_LIMIT ? null : limit, cursors: cursors.join(','), key });
  const columns: Column<string>[] = [
    {
      key: 'key',
      label: 'Key',
      render: (key) => (
        <AppLink to={link(key)} className="kv-key-link" current={key === selected}>
          {key}
        </AppLink>
      ),
    },
    { key: 'type', label: 'Type', render: (key) => <HeadCell head={heads.get(key)} field="type" /> },
    { key: 'size', label: 'Size', numeric: true, render: (key) => <HeadCell head={heads.get(key)} field="size" /> },
    { key: 'ttl', label: 'TTL', render: (key) => <HeadCell head={heads.get(key)} field="ttl" /> },
  ];

  return (
    <Panel title="Keys" className="kv-keys">
      <form
        className="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          typed.current = draft;
          setQueryParams({ prefix: draft, cursors: null });
        }}
      >
        <Field label="Prefix" hint="Keys starting with this text, e.g. user: or images/" className="kv-prefix">
          <input name="prefix" type="search" value={draft} onChange={(e) => setDraft(e.target.value)} autoComplete="off" spellCheck={false} />
        </Field>
        <Field label="Per page">
          <select name="limit" value={limit} onChange={(e) => setQueryParams({ limit: e.target.value === DEFAULT_LIMIT ? null : e.target.value, cursors: null })}>
            {PAGE_SIZES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </Field>
      </form>
      {list.loading && list.data === undefined ? (
        <Loading label="Loading keys…" />
      ) : keys.length === 0 ? (
        list.error === undefined && (
          <EmptyState title={prefix === '' ? 'No keys yet' : `No keys start with “${prefix}”`}>
            {prefix === '' ? 'Create one with New key, or write one with PUT /api/v1/kv/{key}.' : 'Try a shorter prefix, or create a key with New key.'}
          </EmptyState>
        )
      ) : (
        <>
          <p className="muted kv-count" aria-live="polite">
            Keys {formatNumber(first)}–{formatNumber(first + keys.length - 1)}
            {typeof meta.total === 'number' && <> of {formatNumber(meta.total)}</>}
            {prefix !== '' && (
              <>
                {' '}
                starting with <code>{prefix}</code>
              </>
            )}
            {list.loading && ' · loading…'}
          </p>
          <div aria-busy={list.loading || heads.size < keys.length}>
            <DataGrid columns={columns} rows={keys} rowKey={(k) => k} selectedKey={selected} caption={`Keys${prefix === '' ? '' : ` starting with ${prefix}`}, page ${page}`} />
          </div>
        </>
      )}
      {(page > 1 || (meta.next_cursor ?? null) !== null) && (
        <Pager
          page={page}
          label="Key pages"
          hasNext={(meta.next_cursor ?? null) !== null}
          onPrev={() => setQueryParams({ cursors: cursors.slice(0, -1).join(',') }, true)}
          onNext={() => setQueryParams({ cursors: [...cursors, meta.next_cursor as string].join(',') }, true)}
        />
      )}
    </Panel>
  );
}

type Head = KeyHead | null | 'error';

/** HEAD of every listed key (a few at a time): the list's type, size and TTL columns. */
function useHeads(keys: readonly string[]): Map<string, Head> {
  const [heads, setHeads] = useState<Map<string, Head>>(new Map());
  useEffect(() => {
    const controller = new AbortController();
    const found = new Map<string, Head>();
    setHeads(new Map());
    let next = 0;
    let reported = false;
    const worker = async (): Promise<void> => {
      while (next < keys.length && !controller.signal.aborted) {
        const key = keys[next++];
        try {
          found.set(key, await headKey(key, controller.signal));
        } catch (error) {
          if (controller.signal.aborted) return;
          found.set(key, 'error');
          // One toast for a page whose details fail, not one per key.
          if (!reported) notify.error(error);
          reported = true;
        }
        setHeads(new Map(found));
      }
    };
    for (let i = 0; i < 6; i++) void worker();
    return () => controller.abort();
  }, [keys]);
  return heads;
}

function HeadCell({ head, field }: { head: Head | undefined; field: 'type' | 'size' | 'ttl' }) {
  if (head === undefined) return <span className="muted">…</span>;
  if (head === 'error') return <span className="muted">–</span>;
  if (head === null) return field === 'type' ? <Badge tone="warn">not found</Badge> : null;
  if (field === 'type') return <span title={head.contentType}>{shortType(head.contentType)}</span>;
  if (field === 'size') return <>{formatBytes(head.size)}</>;
  if (head.expiresAt === null || head.expiresAt === undefined) return <span className="muted">–</span>;
  return <span title={head.expiresAt}>{formatDuration(Date.parse(head.expiresAt) - Date.now())}</span>;
}

function shortType(contentType: string): string {
  const t = baseType(contentType);
  if (t === 'application/octet-stream') return 'binary';
  if (t === 'text/plain') return 'text';
  // The list has room for a short name; the full type is in the cell's title and the value panel.
  const short = t.replace(/^application\/(x-)?/, '').replace(/^x-www-form-/, 'form-');
  return short.length > 16 ? `${short.slice(0, 15)}…` : short;
}

// ---- the value --------------------------------------------------------------------------------

type Loaded = { loading: boolean; value?: StoredValue; error?: Error };

function useStoredValue(key: string, generation: number): Loaded & { reload: () => void } {
  const [state, setState] = useState<Loaded>({ loading: key !== '' });
  const [own, setOwn] = useState(0);
  useEffect(() => {
    if (key === '') return;
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    readKey(key, controller.signal).then(
      (value) => setState({ loading: false, value }),
      (error: Error) => {
        if (controller.signal.aborted) return;
        notify.error(error);
        setState({ loading: false, error });
      },
    );
    return () => controller.abort();
  }, [key, generation, own]);
  return { ...state, reload: () => setOwn((n) => n + 1) };
}

function ValuePanel({ keyName, generation, onEdit, onChanged }: { keyName: string; generation: number; onEdit: (target: EditTarget) => void; onChanged: () => void }) {
  const loaded = useStoredValue(keyName, generation);
  const [expiryOpen, setExpiryOpen] = useState(false);
  const policies = useApi<{ policies: PolicyRule[] }>(keyName === '' ? null : '/api/v1/cache/policies', { toast: false });
  const action = useAction();
  const saving = useAction();

  if (keyName === '') {
    return (
      <Panel title="Value" className="kv-value">
        <EmptyState title="No key selected">Pick a key in the list to see its value, or create one with New key.</EmptyState>
      </Panel>
    );
  }
  const { value, error } = loaded;
  const remove = async (): Promise<void> => {
    if (!(await confirmAction('Delete key', <>Delete <code>{keyName}</code> and its value? This cannot be undone.</>, 'Delete key'))) return;
    const deleted = await action.run(() => deleteKey(keyName), (existed) => (existed ? `Deleted ${keyName}` : `${keyName} was already gone`));
    if (deleted === undefined) return;
    setQueryParams({ key: null, view: null }, true);
    onChanged();
  };
  const rule = policies.data === undefined ? undefined : policyFor(keyName, policies.data.policies);
  const decoded = value === undefined ? undefined : decode(value.contentType, value.bytes);

  return (
    <Panel
      title={<span className="kv-value-title">{keyName}</span>}
      className="kv-value"
      actions={
        value !== undefined && decoded !== undefined ? (
          <>
            <button type="button" className="button small" onClick={() => onEdit({ mode: 'edit', key: keyName, value, text: decoded.text })}>
              Edit
            </button>
            <button type="button" className="button small" onClick={() => setExpiryOpen(true)}>
              Expiry…
            </button>
            <button
              type="button"
              className="button small"
              disabled={saving.busy}
              onClick={() =>
                void saving.run(async () => {
                  // Through the store's reader: it also reaches the keys "." and "..", which a URL path cannot name.
                  const stored = await readKey(keyName);
                  saveBlob(new Blob([stored.bytes as BlobPart], { type: stored.contentType }), fileNameOf(keyName, stored.contentType));
                })
              }
            >
              {saving.busy ? 'Downloading…' : 'Download'}
            </button>
            <button type="button" className="button small danger" disabled={action.busy} onClick={() => void remove()}>
              {action.busy ? 'Deleting…' : 'Delete'}
            </button>
          </>
        ) : undefined
      }
    >
      {loaded.loading && value === undefined ? (
        <Loading label="Loading the value…" />
      ) : error !== undefined && !(error instanceof ApiError && error.code === 'KEY_NOT_FOUND') ? (
        <EmptyState title="The value could not be loaded">
          <ErrorNote error={error} />
          <button type="button" className="button small" onClick={loaded.reload}>
            Try again
          </button>
        </EmptyState>
      ) : error !== undefined || value === undefined || decoded === undefined ? (
        <EmptyState title="This key does not exist (or it expired)">
          <p>Pick another key in the list, or create it.</p>
          <button type="button" className="button small" onClick={() => onEdit({ mode: 'create', key: keyName })}>
            Create {keyName}
          </button>
        </EmptyState>
      ) : (
        <>
          <dl className="kv-meta">
            <div>
              <dt>Content type</dt>
              <dd>
                <code>{value.contentType}</code>
              </dd>
            </div>
            <div>
              <dt>Size</dt>
              <dd>
                {formatBytes(value.bytes.length)}
                {value.bytes.length >= 1024 && <span className="muted"> ({formatNumber(value.bytes.length)} bytes)</span>}
              </dd>
            </div>
            <div>
              <dt>Expires</dt>
              <dd>
                <Expiry at={value.expiresAt} />
              </dd>
            </div>
            <div>
              <dt>Cache policy</dt>
              <dd>
                {rule !== undefined ? (rule === null ? 'write-through (default)' : `${rule.policy} (prefix “${rule.prefix}”)`) : policies.error !== undefined ? <span className="muted">not readable with this credential</span> : '…'}
              </dd>
            </div>
            <div>
              <dt>Dependencies</dt>
              <dd>
                <AppLink to={pathWith('cache', { dep: keyName })}>Parents and children</AppLink>
              </dd>
            </div>
          </dl>
          <ValueView keyName={keyName} value={value} decoded={decoded} />
        </>
      )}
      {expiryOpen && value !== undefined && (
        <ExpiryEditor
          keyName={keyName}
          value={value}
          onClose={() => setExpiryOpen(false)}
          onSaved={() => {
            setExpiryOpen(false);
            loaded.reload();
            onChanged();
          }}
        />
      )}
    </Panel>
  );
}

function fileNameOf(key: string, contentType: string): string {
  const base = key.replace(/[^\p{L}\p{N}._-]+/gu, '_').slice(0, 120) || 'value';
  const ext: Record<string, string> = { 'application/json': '.json', 'text/plain': '.txt', 'image/png': '.png', 'image/jpeg': '.jpg', 'image/gif': '.gif', 'image/webp': '.webp', 'image/svg+xml': '.svg', 'text/html': '.html', 'text/csv': '.csv' };
  const wanted = ext[baseType(contentType)] ?? '.bin';
  return base.endsWith(wanted) ? base : base + wanted;
}

/** "in 59m 12s (08/12/2026, 00:17:44)", counting down. */
function Expiry({ at }: { at: string | null | undefined }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (at === null || at === undefined) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [at]);
  if (at === undefined) return <span className="muted">not reported for this key</span>;
  if (at === null) return <>never</>;
  const left = Date.parse(at) - now;
  const when = new Date(at).toLocaleString('en-GB', { hour12: false });
  return left <= 0 ? <Badge tone="warn">expired at {when}</Badge> : <span title={at}>in {formatDuration(left)} ({when})</span>;
}

function ValueView({ keyName, value, decoded }: { keyName: string; value: StoredValue; decoded: ReturnType<typeof decode> }) {
  const { params } = useLocation();
  const asked = params.get('view') as ViewKind | null;
  const view = asked !== null && decoded.views.includes(asked) ? asked : decoded.views[0];
  return (
    <>
      {decoded.views.length > 1 && (
        <Tabs
          label="Show the value as"
          tabs={decoded.views.map((id) => ({ id, label: VIEW_LABELS[id] }))}
          value={view}
          onChange={(id) => setQueryParams({ view: id === decoded.views[0] ? null : id })}
        />
      )}
      <div role="tabpanel" aria-label={`Value as ${VIEW_LABELS[view]}`} className="kv-view">
        {view === 'json' && decoded.json !== undefined && <JsonView value={decoded.json.value} label={`Value of ${keyName} (JSON)`} />}
        {view === 'text' && decoded.text !== null && <TextView text={decoded.text} keyName={keyName} />}
        {view === 'image' && <ImageView value={value} keyName={keyName} />}
        {view === 'hex' && <HexView bytes={value.bytes} keyName={keyName} />}
      </div>
    </>
  );
}

function TextView({ text, keyName }: { text: string; keyName: string }) {
  const cut = text.length > TEXT_MAX_CHARS;
  return (
    <>
      <pre className="code kv-text" tabIndex={0} aria-label={`Value of ${keyName} (text)`}>
        {cut ? text.slice(0, TEXT_MAX_CHARS) : text}
      </pre>
      {cut && (
        <p className="muted">
          Showing the first {formatNumber(TEXT_MAX_CHARS)} of {formatNumber(text.length)} characters; Download has the whole value.
        </p>
      )}
    </>
  );
}

function HexView({ bytes, keyName }: { bytes: Uint8Array; keyName: string }) {
  return (
    <>
      <pre className="code hex kv-hex" tabIndex={0} aria-label={`Value of ${keyName} (hex dump: offset, bytes, ASCII)`}>
        {bytes.length === 0 ? '(empty value)' : hexDump(bytes)}
      </pre>
      {bytes.length > HEX_MAX_BYTES && (
        <p className="muted">
          Showing the first {formatNumber(HEX_MAX_BYTES)} of {formatNumber(bytes.length)} bytes; Download has the whole value.
        </p>
      )}
    </>
  );
}

function ImageView({ value, keyName }: { value: StoredValue; keyName: string }) {
  const [url, setUrl] = useState<string | null>(null);
  const [size, setSize] = useState<{ w: number; h: number } | null>(null);
  const [broken, setBroken] = useState(false);
  useEffect(() => {
    // The bytes were fetched with the credential; a blob: URL shows them (the CSP allows img-src blob:).
    const made = URL.createObjectURL(new Blob([new Uint8Array(value.bytes)], { type: baseType(value.contentType) }));
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [value]);
  if (url === null) return <Loading label="Preparing the image…" />;
  return (
    <figure className="kv-figure">
      {broken ? (
        <EmptyState title="The browser cannot decode this image">Its bytes are in the Hex view, or Download it.</EmptyState>
      ) : (
        <img
          className="kv-image"
          src={url}
          alt={`Image stored at ${keyName}`}
          onLoad={(e) => setSize({ w: e.currentTarget.naturalWidth, h: e.currentTarget.naturalHeight })}
          onError={() => setBroken(true)}
        />
      )}
      {size !== null && (
        <figcaption className="muted">
          {size.w} × {size.h} px, {baseType(value.contentType)}
        </figcaption>
      )}
    </figure>
  );
}
