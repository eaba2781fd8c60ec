// Documents: the collections (counts, sizes), and for one collection a query
// bar (filter, projection, sort, limit) over cursor-paged results, the
// document view with edit and delete, insert, an aggregation pipeline,
// EXPLAIN as a tree, indexes and the $jsonSchema validator. Bodies and
// answers are relaxed Extended JSON (an ObjectId is {"$oid": "…"}).
// The view (collection, tab, query, page) lives in the URL.

import { useEffect, useState } from 'react';
import { api, seg, type Answer } from '../api';
import { Badge, CodeEditor, confirmAction, DataGrid, EmptyState, Field, formatBytes, formatNumber, formatTime, JsonView, Loading, Modal, PageHeader, Panel, Stat, Tabs, Tree, type Column } from '../components';
import { useAction, useApi } from '../hooks';
import { navigate, setQueryParams, useLocation, useQueryParam } from '../router';
import { checked, CursorPager, cursorStack, documentColumns, editorRows, ejsonText, parseJsonObject, parseJsonText, useClientPages, useQueryRun } from './query-common';

type Doc = Record<string, unknown>;

type CollectionRow = { name: string; count: number; size_bytes: number; indexes: number; created_at: string; row_level_security?: boolean };

type IndexInfo = {
  name: string;
  keys: Record<string, unknown>;
  unique: boolean;
  sparse: boolean;
  ttl_seconds: number | null;
  partial_filter: Doc | null;
  type: string;
  state: string;
  building: boolean;
  entries: number | null;
};

type Described = {
  name: string;
  options: { validator: Doc | null };
  indexes: IndexInfo[];
  count: number;
  size_bytes: number;
  created_at: string;
  catalog_version: number;
  row_level_security?: boolean;
};

type ExplainShard = { shard: number; plan: string; index: string | null; keys_examined: number; docs_examined: number; returned: number };

const TABS = [
  { id: 'documents', label: 'Documents' },
  { id: 'aggregation', label: 'Aggregation' },
  { id: 'explain', label: 'Explain plan' },
  { id: 'indexes', label: 'Indexes' },
  { id: 'schema', label: 'Schema and validation' },
] as const;
type TabId = (typeof TABS)[number]['id'];

/** Every URL parameter of a collection's view: cleared when another collection is opened. */
const VIEW_PARAMS = { tab: null, filter: null, proj: null, sort: null, limit: null, after: null, pipeline: null };

const collPath = (name: string): string => `/api/v1/docs/${seg(name)}`;

export default function DocumentsSection() {
  const [coll] = useQueryParam('c');
  const list = useApi<CollectionRow[]>('/api/v1/docs');
  const [creating, setCreating] = useState(false);
  const rows = list.data ?? [];
  // A first visit opens the first collection, as Compass does with its last one.
  useEffect(() => {
    if (coll === '' && rows.length > 0) setQueryParams({ c: rows[0].name });
  }, [coll, rows]);
  return (
    <>
      <PageHeader
        title="Documents"
        description="Collections of JSON documents: query with filters, aggregate with pipelines, index and validate."
        actions={
          <button type="button" className="button primary" onClick={() => setCreating(true)}>
            New collection
          </button>
        }
      />
      <div className="split">
        <Panel
          title="Collections"
          actions={
            <button type="button" className="button small" onClick={list.reload} aria-busy={list.loading} disabled={list.loading}>
              {list.loading ? 'Refreshing…' : 'Refresh'}
            </button>
          }
        >
          {list.data === undefined ? (
            list.loading ? <Loading label="Loading collections…" /> : <EmptyState title="The collections could not be listed">Check the server and press Refresh.</EmptyState>
          ) : rows.length === 0 ? (
            <EmptyState title="No collections yet">Create one with “New collection”; inserting a document into a new name creates it too.</EmptyState>
          ) : (
            <ul className="q-list" aria-label="Collections">
              {rows.map((c) => (
                <li key={c.name}>
                  <a
                    href={`/admin/documents?c=${encodeURIComponent(c.name)}`}
                    aria-current={c.name === coll ? 'page' : undefined}
                    onClick={(e) => {
                      if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
                      e.preventDefault();
                      setQueryParams({ c: c.name, ...VIEW_PARAMS }, true);
                    }}
                  >
                    <span className="q-list-name">{c.name}</span>
                    <span className="q-list-meta">
                      {formatNumber(c.count)} docs · {formatBytes(c.size_bytes)} · {c.indexes} {c.indexes === 1 ? 'index' : 'indexes'}
                    </span>
                  </a>
                </li>
              ))}
            </ul>
          )}
        </Panel>
        <div>
          {coll === '' ? (
            <Panel>
              <EmptyState title="No collection open">Pick a collection on the left, or create one with “New collection”.</EmptyState>
            </Panel>
          ) : (
            <CollectionView key={coll} name={coll} onChanged={list.reload} />
          )}
        </div>
      </div>
      <CreateCollection
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(name) => {
          setCreating(false);
          list.reload();
          setQueryParams({ c: name, ...VIEW_PARAMS }, true);
        }}
      />
    </>
  );
}

function CollectionView({ name, onChanged }: { name: string; onChanged: () => void }) {
  const info = useApi<Described>(collPath(name));
  const [tabParam, setTab] = useQueryParam('tab', 'documents');
  const tab: TabId = TABS.some((t) => t.id === tabParam) ? (tabParam as TabId) : 'documents';
  const drop = useAction();
  const changed = (): void => {
    info.reload();
    onChanged();
  };
  const dropCollection = async (): Promise<void> => {
    const ok = await confirmAction(`Drop collection “${name}”?`, `Its ${formatNumber(info.data?.count)} documents and all its indexes are deleted. This cannot be undone.`, 'Drop collection');
    if (!ok) return;
    const done = await drop.run(() => api.delete(collPath(name)), `Collection “${name}” dropped`);
    if (done !== undefined) {
      onChanged();
      navigate('/documents', true);
    }
  };
  const d = info.data;
  return (
    <Panel
      title={name}
      actions={
        <>
          <button type="button" className="button small" onClick={info.reload} disabled={info.loading} aria-busy={info.loading}>
            {info.loading ? 'Refreshing…' : 'Refresh'}
          </button>
          <button type="button" className="button small danger" onClick={() => void dropCollection()} disabled={drop.busy}>
            {drop.busy ? 'Dropping…' : 'Drop collection'}
          </button>
        </>
      }
    >
      {d === undefined ? (
        info.loading ? <Loading label="Loading the collection…" /> : <EmptyState title={`No collection “${name}”`}>It may have been dropped: pick another one, or create it with “New collection”.</EmptyState>
      ) : (
        <div className="cards q-cards">
          <Stat label="Documents" value={formatNumber(d.count)} hint={`created ${formatTime(d.created_at)}`} />
          <Stat label="Data size" value={formatBytes(d.size_bytes)} hint={d.count > 0 ? `avg ${formatBytes(d.size_bytes / d.count)} per document` : undefined} />
          <Stat label="Indexes" value={d.indexes?.length ?? 0} hint={(d.indexes ?? []).map((i) => i.name).join(', ')} />
          <Stat label="Validator" value={d.options.validator === null ? 'none' : '$jsonSchema'} hint={d.row_level_security === true ? 'row-level security on' : undefined} />
        </div>
      )}
      <Tabs label="Collection views" tabs={TABS} value={tab} onChange={(id) => setTab(id, true)} />
      {tab === 'documents' && <DocumentsTab name={name} onChanged={changed} />}
      {tab === 'aggregation' && <AggregationTab name={name} />}
      {tab === 'explain' && <ExplainTab name={name} />}
      {tab === 'indexes' && <IndexesTab name={name} info={d} onChanged={changed} />}
      {tab === 'schema' && <SchemaTab name={name} info={d} onChanged={changed} />}
    </Panel>
  );
}

// ---- documents: the query bar, results and the document view ---------------------------------

type FindQuery = { filter: string; proj: string; sort: string; limit: string };

function useFindQuery(): FindQuery & { after: string[] } {
  const { params } = useLocation();
  return {
    filter: params.get('filter') ?? '',
    proj: params.get('proj') ?? '',
    sort: params.get('sort') ?? '',
    limit: params.get('limit') ?? '20',
    after: cursorStack(params.get('after') ?? ''),
  };
}

/** The find body of a query as kept in the URL (throws a readable error for bad JSON). */
function findBody(q: FindQuery): Record<string, unknown> {
  const body: Record<string, unknown> = { filter: parseJsonObject(q.filter, 'The filter') ?? {} };
  const projection = parseJsonObject(q.proj, 'The projection');
  const sort = parseJsonObject(q.sort, 'The sort');
  if (projection !== undefined) body.projection = projection;
  if (sort !== undefined) body.sort = sort;
  const limit = Number(q.limit);
  body.limit = Number.isInteger(limit) && limit > 0 ? limit : 20;
  return body;
}

function DocumentsTab({ name, onChanged }: { name: string; onChanged: () => void }) {
  const q = useFindQuery();
  const [draft, setDraft] = useState<FindQuery>(q);
  // The editors follow the URL when it changes from outside (back/forward, a shared link).
  useEffect(() => setDraft({ filter: q.filter, proj: q.proj, sort: q.sort, limit: q.limit }), [q.filter, q.proj, q.sort, q.limit]);
  const cursor = q.after.at(-1) ?? null;
  const key = JSON.stringify([name, q.filter, q.proj, q.sort, q.limit, cursor]);
  const found = useQueryRun<Doc[]>(key, async (signal) => api.post<Doc[]>(`${collPath(name)}/find`, { ...findBody(q), ...(cursor === null ? {} : { cursor }) }, { signal }));
  const [open, setOpen] = useState<Doc | null>(null);
  const [inserting, setInserting] = useState(false);

  const apply = (tab?: TabId): void => {
    if (!checked(() => findBody(draft))) return;
    const same = draft.filter === q.filter && draft.proj === q.proj && draft.sort === q.sort && draft.limit === q.limit && q.after.length === 0;
    setQueryParams({ filter: draft.filter.trim() === '{}' ? '' : draft.filter, proj: draft.proj, sort: draft.sort, limit: draft.limit === '20' ? '' : draft.limit, after: null, ...(tab === undefined ? {} : { tab }) });
    if (same && tab === undefined) found.reload();
  };
  const reset = (): void => setQueryParams({ filter: null, proj: null, sort: null, limit: null, after: null });
  const docs = found.data ?? [];
  // A projection without _id leaves nothing to open the document by.
  const addressable = docs.every((d) => d._id !== undefined);
  const openColumn: Column<Doc> = {
    key: '__open',
    label: 'Document',
    render: (row) => (
      <button type="button" className="button small" onClick={() => setOpen(row)} aria-label={`Open document ${ejsonText(row._id)}`}>
        Open
      </button>
    ),
  };
  const columns: Column<Doc>[] = [...(addressable ? [openColumn] : []), ...documentColumns(docs)];
  const changed = (): void => {
    found.reload();
    onChanged();
  };
  return (
    <div>
      <form
        className="q-querybar"
        aria-label="Find documents"
        onSubmit={(e) => {
          e.preventDefault();
          apply();
        }}
      >
        <div className="q-editors">
          <div className="q-editor q-editor-wide">
            <span className="field-label">Filter</span>
            <CodeEditor value={draft.filter} onChange={(filter) => setDraft({ ...draft, filter })} language="json" label="Filter (JSON)" rows={editorRows(draft.filter, 90, 2, 8)} onRun={() => apply()} />
            <span className="field-hint muted">A query document, e.g. {'{"status": "paid", "total": {"$gt": 50}}'}; empty finds everything. Ctrl+Enter runs.</span>
          </div>
          <div className="q-editor">
            <span className="field-label">Projection</span>
            <CodeEditor value={draft.proj} onChange={(proj) => setDraft({ ...draft, proj })} language="json" label="Projection (JSON)" rows={editorRows(draft.proj, 44, 2, 8)} onRun={() => apply()} />
            <span className="field-hint muted">{'{"customer": 1, "total": 1}'}</span>
          </div>
          <div className="q-editor">
            <span className="field-label">Sort</span>
            <CodeEditor value={draft.sort} onChange={(sort) => setDraft({ ...draft, sort })} language="json" label="Sort (JSON)" rows={editorRows(draft.sort, 44, 2, 8)} onRun={() => apply()} />
            <span className="field-hint muted">{'{"total": -1}'}</span>
          </div>
        </div>
        <div className="toolbar">
          <Field label="Limit" className="q-narrow">
            <input type="number" min={1} max={1000} value={draft.limit} onChange={(e) => setDraft({ ...draft, limit: e.target.value })} />
          </Field>
          <button type="submit" className="button primary" disabled={found.loading} aria-busy={found.loading}>
            {found.loading ? 'Finding…' : 'Find'}
          </button>
          <button type="button" className="button" onClick={() => apply('explain')}>
            Explain
          </button>
          <button type="button" className="button" onClick={reset}>
            Reset
          </button>
          <span className="q-spacer" />
          <button type="button" className="button" onClick={() => setInserting(true)}>
            Insert document
          </button>
        </div>
      </form>
      <h3>Results</h3>
      {found.loading && found.data === undefined ? (
        <Loading label="Finding documents…" />
      ) : found.data === undefined ? (
        <EmptyState title="No results">The query failed (see the message); fix it and press Find.</EmptyState>
      ) : docs.length === 0 ? (
        <EmptyState title={q.filter === '' && q.after.length === 0 ? 'This collection is empty' : 'No document matches'}>
          {q.filter === '' && q.after.length === 0 ? 'Insert a document with “Insert document”.' : 'Change the filter, or press Reset to see every document.'}
        </EmptyState>
      ) : (
        <>
          <p className="muted q-result-line" aria-live="polite" aria-busy={found.loading}>
            {found.loading
              ? `Finding page ${q.after.length + 1}…`
              : `${docs.length} ${docs.length === 1 ? 'document' : 'documents'} on page ${q.after.length + 1}${found.meta.next_cursor ? ' · more on the next page' : ''}`}
          </p>
          <DataGrid columns={columns} rows={docs} caption={`Documents of ${name}`} rowKey={(row, i) => `${ejsonText(row._id)}#${i}`} />
        </>
      )}
      <CursorPager stack={q.after} param="after" next={found.meta.next_cursor as string | null | undefined} label="Document pages" />
      {open !== null && <DocumentModal coll={name} doc={open} onClose={() => setOpen(null)} onChanged={changed} />}
      <InsertModal open={inserting} coll={name} sample={docs[0]} onClose={() => setInserting(false)} onInserted={changed} />
    </div>
  );
}

const HEX24 = /^[0-9a-fA-F]{24}$/;

/** The by-id route of a document, or null for an _id type the path cannot carry (a date, a nested document…). */
function idRoute(coll: string, id: unknown): { path: string; query?: Record<string, string> } | null {
  // Browsers normalize "." and ".." path segments away (even percent-encoded): such ids go by filter.
  if (id === '.' || id === '..') return null;
  if (typeof id === 'string') return { path: `${collPath(coll)}/${seg(id)}`, query: { id_type: 'string' } };
  if (typeof id === 'number' && Number.isFinite(id)) return { path: `${collPath(coll)}/${seg(String(id))}`, query: { id_type: 'number' } };
  if (id !== null && typeof id === 'object') {
    const o = id as Record<string, unknown>;
    if (Object.keys(o).length === 1 && typeof o.$oid === 'string' && HEX24.test(o.$oid)) return { path: `${collPath(coll)}/${o.$oid}`, query: { id_type: 'oid' } };
  }
  return null;
}

/** Replaces a document: PUT on its id, or an update by {_id} for ids a path cannot carry. */
function replaceDocument(coll: string, id: unknown, doc: Doc): Promise<Answer<unknown>> {
  const route = idRoute(coll, id);
  if (route !== null) return api.put(route.path, doc, { query: route.query });
  return api.post(`${collPath(coll)}/update`, { filter: { _id: id }, update: doc });
}

function deleteDocument(coll: string, id: unknown): Promise<Answer<unknown>> {
  const route = idRoute(coll, id);
  if (route !== null) return api.delete(route.path, { query: route.query });
  return api.post(`${collPath(coll)}/delete`, { filter: { _id: id }, multi: false });
}

function DocumentModal({ coll, doc, onClose, onChanged }: { coll: string; doc: Doc; onClose: () => void; onChanged: () => void }) {
  const [current, setCurrent] = useState(doc);
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(() => JSON.stringify(doc, null, 2));
  const action = useAction();
  const id = current._id;
  const save = async (): Promise<void> => {
    let next: Doc | undefined;
    if (!checked(() => (next = parseJsonObject(text, 'The document')))) return;
    if (next === undefined) return;
    const done = await action.run(() => replaceDocument(coll, id, next as Doc), 'Document saved');
    if (done === undefined) return;
    setCurrent({ _id: id, ...next });
    setEditing(false);
    onChanged();
  };
  const remove = async (): Promise<void> => {
    if (!(await confirmAction('Delete this document?', `The document ${ejsonText(id)} is deleted from “${coll}”.`, 'Delete document'))) return;
    const done = await action.run(() => deleteDocument(coll, id), 'Document deleted');
    if (done === undefined) return;
    onChanged();
    onClose();
  };
  return (
    <Modal
      open
      wide
      title={`Document ${ejsonText(id)}`}
      onClose={onClose}
      footer={
        editing ? (
          <>
            <button type="button" className="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
            <button type="button" className="button primary" onClick={() => void save()} disabled={action.busy}>
              {action.busy ? 'Saving…' : 'Save document'}
            </button>
          </>
        ) : (
          <>
            <button type="button" className="button danger" onClick={() => void remove()} disabled={action.busy}>
              {action.busy ? 'Deleting…' : 'Delete'}
            </button>
            <button
              type="button"
              className="button primary"
              onClick={() => {
                setText(JSON.stringify(current, null, 2));
                setEditing(true);
              }}
            >
              Edit
            </button>
          </>
        )
      }
    >
      {editing ? (
        <>
          <CodeEditor value={text} onChange={setText} language="json" label="Document (JSON)" rows={16} onRun={() => void save()} />
          <p className="field-hint muted">Replaces the whole document (PUT). Relaxed Extended JSON: {'{"$oid": "…"}'}, {'{"$date": "2026-01-31T00:00:00Z"}'}. Ctrl+Enter saves.</p>
        </>
      ) : (
        <JsonView value={current} label="Document" />
      )}
    </Modal>
  );
}

function InsertModal({ open, coll, sample, onClose, onInserted }: { open: boolean; coll: string; sample: Doc | undefined; onClose: () => void; onInserted: () => void }) {
  const [text, setText] = useState('');
  const action = useAction();
  useEffect(() => {
    if (!open) return;
    // A template shaped like the documents already there (without their _id).
    const { _id: _ignored, ...rest } = sample ?? {};
    setText(JSON.stringify(sample === undefined ? { name: 'example' } : rest, null, 2));
  }, [open, sample]);
  const insert = async (): Promise<void> => {
    let value: unknown;
    if (!checked(() => (value = parseJsonText(text, 'The document')))) return;
    const documents = Array.isArray(value) ? value : [value];
    const done = await action.run(
      () => api.post<{ inserted_ids: unknown[] }>(`${collPath(coll)}/insert`, { documents }),
      (a) => `Inserted ${a.data.inserted_ids.length} document${a.data.inserted_ids.length === 1 ? '' : 's'}`,
    );
    if (done === undefined) return;
    onInserted();
    onClose();
  };
  return (
    <Modal
      open={open}
      wide
      title={`Insert into ${coll}`}
      onClose={onClose}
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="button" className="button primary" onClick={() => void insert()} disabled={action.busy}>
            {action.busy ? 'Inserting…' : 'Insert'}
          </button>
        </>
      }
    >
      <CodeEditor value={text} onChange={setText} language="json" label="New document (JSON)" rows={14} onRun={() => void insert()} />
      <p className="field-hint muted">One document, or an array of up to 1,000. Without an _id the server assigns an ObjectId. Ctrl+Enter inserts.</p>
    </Modal>
  );
}

// ---- aggregation -------------------------------------------------------------------------------

const STAGES: Record<string, Doc> = {
  $match: { $match: { field: 'value' } },
  $group: { $group: { _id: '$field', count: { $sum: 1 } } },
  $sort: { $sort: { count: -1 } },
  $project: { $project: { _id: 0, field: 1 } },
  $limit: { $limit: 10 },
  $unwind: { $unwind: '$items' },
  $lookup: { $lookup: { from: 'other', localField: 'field', foreignField: '_id', as: 'joined' } },
  $count: { $count: 'n' },
};

const DEFAULT_PIPELINE = '[\n  { "$match": {} },\n  { "$limit": 20 }\n]';

function AggregationTab({ name }: { name: string }) {
  const [applied, setApplied] = useQueryParam('pipeline');
  const [text, setText] = useState(applied === '' ? DEFAULT_PIPELINE : applied);
  const [view, setView] = useState<'table' | 'json'>('table');
  useEffect(() => {
    if (applied !== '') setText(applied);
  }, [applied]);
  // A pipeline from the URL runs on load unless it writes ($out / $merge): those run on a click only.
  const [armed, setArmed] = useState(() => applied !== '' && !/"\$(out|merge)"/.test(applied));
  const key = armed && applied !== '' ? JSON.stringify([name, applied]) : null;
  const result = useQueryRun<Doc[]>(key, async (signal) => {
    const pipeline = parseJsonText(applied, 'The pipeline');
    if (!Array.isArray(pipeline)) throw new Error('The pipeline must be a JSON array of stages ([{…}, …])');
    return api.post<Doc[]>(`${collPath(name)}/aggregate`, { pipeline }, { signal });
  });
  const run = (): void => {
    if (!checked(() => {
      if (!Array.isArray(parseJsonText(text, 'The pipeline'))) throw new Error('The pipeline must be a JSON array of stages ([{…}, …])');
    })) return;
    setArmed(true);
    if (text === applied && armed) result.reload();
    else setApplied(text);
  };
  const addStage = (stage: string): void => {
    if (stage === '') return;
    let stages: unknown;
    if (!checked(() => (stages = parseJsonText(text, 'The pipeline') ?? []))) return;
    if (!Array.isArray(stages)) return;
    setText(JSON.stringify([...(stages as unknown[]), STAGES[stage]], null, 2));
  };
  const rows = result.data ?? [];
  const pages = useClientPages(rows, 50, result.data);
  return (
    <div>
      <div className="q-editor">
        <span className="field-label">Pipeline</span>
        <CodeEditor value={text} onChange={setText} language="json" label="Aggregation pipeline (JSON array)" rows={9} onRun={run} />
        <span className="field-hint muted">An array of stages: $match, $group, $sort, $project, $lookup, $unwind… Ctrl+Enter runs.</span>
      </div>
      <div className="toolbar">
        <button type="button" className="button primary" onClick={run} disabled={result.loading} aria-busy={result.loading}>
          {result.loading ? 'Running…' : 'Run pipeline'}
        </button>
        <Field label="Add a stage" className="q-narrow">
          <select value="" onChange={(e) => addStage(e.target.value)}>
            <option value="">Choose…</option>
            {Object.keys(STAGES).map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </Field>
        <span className="q-spacer" />
        <div className="q-toggle" role="group" aria-label="Result view">
          <button type="button" className="button small" aria-pressed={view === 'table'} onClick={() => setView('table')}>
            Table
          </button>
          <button type="button" className="button small" aria-pressed={view === 'json'} onClick={() => setView('json')}>
            JSON
          </button>
        </div>
      </div>
      <h3>Output</h3>
      {result.loading && result.data === undefined ? (
        <Loading label="Running the pipeline…" />
      ) : result.data === undefined ? (
        <EmptyState title="No output yet">Write a pipeline and press “Run pipeline”.</EmptyState>
      ) : rows.length === 0 ? (
        <EmptyState title="The pipeline returned nothing">Loosen its $match, or check the field names.</EmptyState>
      ) : (
        <>
          <p className="muted q-result-line">{formatNumber(rows.length)} result documents</p>
          {view === 'table' ? <DataGrid columns={documentColumns(pages.slice, 12)} rows={pages.slice} caption="Pipeline output" /> : <JsonView value={pages.slice} label="Pipeline output" />}
          {pages.pager}
        </>
      )}
    </div>
  );
}

// ---- explain -------------------------------------------------------------------------------------

function ExplainTab({ name }: { name: string }) {
  const q = useFindQuery();
  const key = JSON.stringify([name, q.filter, q.proj, q.sort, q.limit]);
  const explained = useQueryRun<{ shards: ExplainShard[] }>(key, async (signal) => {
    const { limit: _limit, ...body } = findBody(q);
    return api.post<{ shards: ExplainShard[] }>(`${collPath(name)}/explain`, body, { signal });
  });
  const shards = explained.data?.shards ?? [];
  const plans = [...new Set(shards.map((s) => (s.index === null ? s.plan : `${s.plan} on ${s.index}`)))];
  const sum = (k: 'keys_examined' | 'docs_examined' | 'returned'): number => shards.reduce((n, s) => n + s[k], 0);
  const tree = {
    plan: plans.join(' / '),
    query: { filter: q.filter === '' ? '{}' : q.filter, ...(q.sort === '' ? {} : { sort: q.sort }), ...(q.proj === '' ? {} : { projection: q.proj }) },
    totals: { keys_examined: sum('keys_examined'), docs_examined: sum('docs_examined'), returned: sum('returned') },
    shards: Object.fromEntries(
      shards.map((s) => [`shard ${s.shard}`, { plan: s.index === null ? s.plan : `${s.plan} on ${s.index}`, index: s.index, keys_examined: s.keys_examined, docs_examined: s.docs_examined, returned: s.returned }]),
    ),
  };
  return (
    <div>
      <p className="muted">
        The plan of the query on the Documents tab (filter <code>{q.filter === '' ? '{}' : q.filter}</code>
        {q.sort !== '' && (
          <>
            , sort <code>{q.sort}</code>
          </>
        )}
        ), run on every shard to count what it examines.
      </p>
      <div className="toolbar">
        <button type="button" className="button" onClick={explained.reload} disabled={explained.loading} aria-busy={explained.loading}>
          {explained.loading ? 'Explaining…' : 'Explain again'}
        </button>
        <button type="button" className="button" onClick={() => setQueryParams({ tab: 'documents' })}>
          Edit the query
        </button>
      </div>
      {explained.loading && explained.data === undefined ? (
        <Loading label="Explaining…" />
      ) : explained.data === undefined ? (
        <EmptyState title="No plan">The explain failed (see the message); fix the query on the Documents tab.</EmptyState>
      ) : (
        <>
          <div className="cards q-cards">
            <Stat label="Plan" value={<span className="q-small-stat">{plans.join(' / ') || '–'}</span>} hint={plans.some((p) => p.startsWith('COLLSCAN')) ? 'a collection scan: an index on the filtered fields would help' : undefined} />
            <Stat label="Keys examined" value={formatNumber(sum('keys_examined'))} />
            <Stat label="Documents examined" value={formatNumber(sum('docs_examined'))} />
            <Stat label="Returned" value={formatNumber(sum('returned'))} />
          </div>
          <Tree value={tree} label="Query plan" />
        </>
      )}
    </div>
  );
}

// ---- indexes ---------------------------------------------------------------------------------------

function IndexesTab({ name, info, onChanged }: { name: string; info: Described | undefined; onChanged: () => void }) {
  const action = useAction();
  const [form, setForm] = useState({ name: '', keys: '{ "field": 1 }', type: 'btree', unique: false, sparse: false, ttl: '', partial: '' });
  const drop = async (index: string): Promise<void> => {
    if (!(await confirmAction(`Drop index “${index}”?`, `Queries on “${name}” that used it fall back to other indexes or a collection scan.`, 'Drop index'))) return;
    const done = await action.run(() => api.delete(`${collPath(name)}/indexes/${seg(index)}`), `Index “${index}” dropped`);
    if (done !== undefined) onChanged();
  };
  const create = async (): Promise<void> => {
    let body: Record<string, unknown> = {};
    if (
      !checked(() => {
        const keys = parseJsonObject(form.keys, 'The keys');
        if (keys === undefined) throw new Error('The keys are required: {"field": 1} (1 ascending, -1 descending)');
        const partial = parseJsonObject(form.partial, 'The partial filter');
        body = {
          keys,
          ...(form.name.trim() === '' ? {} : { name: form.name.trim() }),
          ...(form.type === 'btree' ? {} : { type: form.type }),
          ...(form.unique ? { unique: true } : {}),
          ...(form.sparse ? { sparse: true } : {}),
          ...(form.ttl.trim() === '' ? {} : { ttl_seconds: Number(form.ttl) }),
          ...(partial === undefined ? {} : { partial_filter: partial }),
        };
      })
    )
      return;
    const done = await action.run(() => api.post<IndexInfo>(`${collPath(name)}/indexes`, body), (a) => `Index “${a.data.name}” created`);
    if (done !== undefined) {
      setForm({ ...form, name: '' });
      onChanged();
    }
  };
  const columns: Column<IndexInfo>[] = [
    { key: 'name', label: 'Name', render: (i) => <code>{i.name}</code> },
    {
      key: 'keys',
      label: 'Keys',
      render: (i) => (
        <code>
          {Object.entries(i.keys)
            .map(([k, d]) => `${k}: ${String(d)}`)
            .join(', ')}
        </code>
      ),
    },
    {
      key: 'type',
      label: 'Type',
      render: (i) => (
        <span className="q-badges">
          {i.type}
          {i.unique && <Badge tone="info">unique</Badge>}
          {i.sparse && <Badge>sparse</Badge>}
          {i.ttl_seconds !== null && <Badge tone="warn">TTL {i.ttl_seconds}s</Badge>}
          {i.partial_filter !== null && <Badge>partial {JSON.stringify(i.partial_filter)}</Badge>}
        </span>
      ),
    },
    { key: 'state', label: 'State', render: (i) => <Badge tone={i.state === 'ready' ? 'good' : 'warn'}>{i.state}</Badge> },
    { key: 'entries', label: 'Entries', numeric: true, render: (i) => formatNumber(i.entries) },
    {
      key: 'drop',
      label: 'Actions',
      render: (i) =>
        i.name === '_id_' ? (
          <span className="muted">built in</span>
        ) : (
          <button type="button" className="button small danger" onClick={() => void drop(i.name)} disabled={action.busy} aria-label={`Drop index ${i.name}`}>
            Drop
          </button>
        ),
    },
  ];
  return (
    <div>
      {info === undefined ? <Loading label="Loading indexes…" /> : <DataGrid columns={columns} rows={info.indexes} caption={`Indexes of ${name}`} rowKey={(i) => i.name} />}
      <h3>Create an index</h3>
      <form
        className="q-form"
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <div className="q-editor">
          <span className="field-label">Keys</span>
          <CodeEditor value={form.keys} onChange={(keys) => setForm({ ...form, keys })} language="json" label="Index keys (JSON)" rows={2} onRun={() => void create()} />
          <span className="field-hint muted">{'{"customer": 1, "created_at": -1}'}: 1 ascending, -1 descending.</span>
        </div>
        <div className="q-form-row">
          <Field label="Name" hint="Default: field_1_…">
            <input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} autoComplete="off" />
          </Field>
          <Field label="Type">
            <select value={form.type} onChange={(e) => setForm({ ...form, type: e.target.value })}>
              <option value="btree">B-tree (ranges, sorts)</option>
              <option value="hash">Hashed (equality)</option>
              <option value="text">Text ($text search)</option>
            </select>
          </Field>
          <Field label="TTL (seconds)" hint="Expire documents this long after the date in the key">
            <input type="number" min={0} value={form.ttl} onChange={(e) => setForm({ ...form, ttl: e.target.value })} />
          </Field>
        </div>
        <div className="q-form-row q-checks">
          <label className="field inline">
            <input type="checkbox" checked={form.unique} onChange={(e) => setForm({ ...form, unique: e.target.checked })} /> Unique
          </label>
          <label className="field inline">
            <input type="checkbox" checked={form.sparse} onChange={(e) => setForm({ ...form, sparse: e.target.checked })} /> Sparse (skip documents without the field)
          </label>
        </div>
        <div className="q-editor">
          <span className="field-label">Partial filter</span>
          <CodeEditor value={form.partial} onChange={(partial) => setForm({ ...form, partial })} language="json" label="Partial filter (JSON, optional)" rows={2} />
          <span className="field-hint muted">Optional: index only the documents matching it, e.g. {'{"status": "active"}'}.</span>
        </div>
        <button type="submit" className="button primary" disabled={action.busy}>
          {action.busy ? 'Working…' : 'Create index'}
        </button>
      </form>
    </div>
  );
}

// ---- schema: the validator and the fields seen in a sample ----------------------------------------

const SCHEMA_TEMPLATE = { $jsonSchema: { bsonType: 'object', required: ['name'], properties: { name: { bsonType: 'string' } } } };

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.$oid === 'string') return 'ObjectId';
    if (o.$date !== undefined) return 'date';
    if (o.$numberLong !== undefined) return 'long';
    if (o.$numberDecimal !== undefined) return 'decimal';
    if (o.$binary !== undefined) return 'binary';
    return 'object';
  }
  return typeof value;
}

type FieldSummary = { path: string; types: Map<string, number>; present: number };

/** Field paths (nested documents one level down) with the types seen, from a sample of documents. */
function analyze(docs: readonly Doc[]): FieldSummary[] {
  const fields = new Map<string, FieldSummary>();
  const visit = (doc: Doc, prefix: string, depth: number): void => {
    for (const [k, v] of Object.entries(doc)) {
      const path = prefix + k;
      const f = fields.get(path) ?? { path, types: new Map<string, number>(), present: 0 };
      fields.set(path, f);
      f.present++;
      const t = typeOf(v);
      f.types.set(t, (f.types.get(t) ?? 0) + 1);
      if (t === 'object' && depth < 1) visit(v as Doc, `${path}.`, depth + 1);
    }
  };
  for (const d of docs) visit(d, '', 0);
  return [...fields.values()];
}

const SAMPLE_SIZE = 200;

function SchemaTab({ name, info, onChanged }: { name: string; info: Described | undefined; onChanged: () => void }) {
  const sample = useQueryRun<Doc[]>(JSON.stringify(['sample', name]), (signal) => api.post<Doc[]>(`${collPath(name)}/find`, { limit: SAMPLE_SIZE }, { signal }));
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState('');
  const action = useAction();
  const validator = info?.options.validator ?? null;
  const save = async (value: Doc | null): Promise<void> => {
    const done = await action.run(() => api.put(collPath(name), { validator: value }), value === null ? 'Validator removed' : 'Validator saved');
    if (done === undefined) return;
    setEditing(false);
    onChanged();
  };
  const docs = sample.data ?? [];
  const fields = analyze(docs);
  const fieldColumns: Column<FieldSummary>[] = [
    { key: 'path', label: 'Field', render: (f) => <code>{f.path}</code> },
    {
      key: 'types',
      label: 'Types seen',
      render: (f) => (
        <span className="q-badges">
          {[...f.types.entries()].map(([t, n]) => (
            <Badge key={t} tone="info">
              {t}
              {f.types.size > 1 ? ` ${Math.round((n / f.present) * 100)}%` : ''}
            </Badge>
          ))}
        </span>
      ),
    },
    { key: 'present', label: 'In documents', numeric: true, render: (f) => `${Math.round((f.present / Math.max(1, docs.length)) * 100)}%` },
  ];
  return (
    <div className="row">
      <section aria-labelledby="doc-validator-title">
        <h3 id="doc-validator-title">Validator</h3>
        {editing ? (
          <>
            <CodeEditor value={text} onChange={setText} language="json" label="Validator (JSON)" rows={12} />
            <p className="field-hint muted">{'{"$jsonSchema": {…}}'}: inserts and updates that do not match are refused (DOC_VALIDATION).</p>
            <div className="toolbar">
              <button
                type="button"
                className="button primary"
                disabled={action.busy}
                onClick={() => {
                  let value: Doc | undefined;
                  if (checked(() => (value = parseJsonObject(text, 'The validator')))) void save(value ?? null);
                }}
              >
                {action.busy ? 'Saving…' : 'Save validator'}
              </button>
              <button type="button" className="button" onClick={() => setEditing(false)}>
                Cancel
              </button>
            </div>
          </>
        ) : (
          <>
            {info === undefined ? <Loading /> : validator === null ? <EmptyState title="No validator">Any document is accepted. Add a $jsonSchema to require fields and types.</EmptyState> : <JsonView value={validator} label="Validator" />}
            <div className="toolbar q-top-gap">
              <button
                type="button"
                className="button"
                onClick={() => {
                  setText(JSON.stringify(validator ?? SCHEMA_TEMPLATE, null, 2));
                  setEditing(true);
                }}
              >
                {validator === null ? 'Add a validator' : 'Edit validator'}
              </button>
              {validator !== null && (
                <button
                  type="button"
                  className="button danger"
                  disabled={action.busy}
                  onClick={() => void confirmAction('Remove the validator?', `Documents of “${name}” are no longer checked on insert and update.`, 'Remove validator').then((ok) => {
                      if (ok) void save(null);
                    })
                  }
                >
                  Remove validator
                </button>
              )}
            </div>
          </>
        )}
      </section>
      <section aria-labelledby="doc-fields-title">
        <h3 id="doc-fields-title">Fields</h3>
        <p className="muted">Seen in {formatNumber(docs.length)} sampled documents{docs.length === SAMPLE_SIZE ? ' (the first 200)' : ''}.</p>
        {sample.loading && sample.data === undefined ? <Loading label="Sampling documents…" /> : fields.length === 0 ? <EmptyState title="No fields yet">Insert documents to see their shape.</EmptyState> : <DataGrid columns={fieldColumns} rows={fields} caption={`Fields of ${name}`} rowKey={(f) => f.path} />}
      </section>
    </div>
  );
}

// ---- create a collection ------------------------------------------------------------------------------

function CreateCollection({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (name: string) => void }) {
  const [name, setName] = useState('');
  const [withValidator, setWithValidator] = useState(false);
  const [text, setText] = useState(JSON.stringify(SCHEMA_TEMPLATE, null, 2));
  const action = useAction();
  const create = async (): Promise<void> => {
    const trimmed = name.trim();
    let validator: Doc | undefined;
    if (
      !checked(() => {
        if (trimmed === '') throw new Error('Give the collection a name');
        if (withValidator) validator = parseJsonObject(text, 'The validator');
      })
    )
      return;
    const done = await action.run(() => api.put(collPath(trimmed), validator === undefined ? {} : { validator }), `Collection “${trimmed}” created`);
    if (done === undefined) return;
    setName('');
    setWithValidator(false);
    onCreated(trimmed);
  };
  return (
    <Modal
      open={open}
      title="New collection"
      wide
      onClose={onClose}
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="button" className="button primary" onClick={() => void create()} disabled={action.busy}>
            {action.busy ? 'Creating…' : 'Create collection'}
          </button>
        </>
      }
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <Field label="Collection name" hint="Letters, digits, _ - and . are safe choices.">
          <input value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" required />
        </Field>
        <label className="field inline">
          <input type="checkbox" checked={withValidator} onChange={(e) => setWithValidator(e.target.checked)} /> Validate documents with a $jsonSchema
        </label>
        {withValidator && <CodeEditor value={text} onChange={setText} language="json" label="Validator (JSON)" rows={10} />}
      </form>
    </Modal>
  );
}
