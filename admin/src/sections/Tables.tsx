// Tables: the columnar tables (create, drop), and for one table its data
// through a query builder (columns, where, order by, limit) with cursor
// paging, row inserts, the schema (columns, key, add a column), indexes and
// storage stats (compression per column, segments, shards); plus a CQL
// console over the same tables. The view lives in the URL.

import { useEffect, useState } from 'react';
import { api, seg } from '../api';
import { Badge, CodeEditor, confirmAction, DataGrid, EmptyState, Field, formatBytes, formatNumber, formatTime, Loading, Modal, PageHeader, Panel, Stat, Tabs, type Column } from '../components';
import { useAction, useApi } from '../hooks';
import { navigate, setQueryParams, useLocation, useQueryParam } from '../router';
import { notify } from '../toast';
import { COLUMN_TYPES } from '../../../shared/tables/table-types';
import { cellNode, checked, CursorPager, cursorStack, NUMERIC_TYPES, parseJsonText, useQueryRun } from './query-common';
import { isReadOnly } from './sql-text';

type ColumnDef = { name: string; type: string; nullable: boolean; default: unknown; cql_type?: string };
type IndexDef = { name: string; type: string; columns: string[]; unique: boolean; state: string };
type TableInfo = {
  name: string;
  columns: ColumnDef[];
  primary_key: string[];
  partition_key_length: number;
  key_desc?: boolean[];
  indexes: IndexDef[];
  default_ttl_seconds: number;
  cql: boolean;
  created_at: string;
  catalog_version: number;
};
type ColumnStats = {
  name: string;
  type: string;
  plain_bytes: number;
  stored_bytes: number;
  compression_ratio: number;
  saved: number;
  encodings: Record<string, number>;
  zone?: { min: unknown; max: unknown; null_count: number; rows: number; distinct: number };
};
type ShardStats = { shard: number; rows: number; delta_rows: number; segments: number; bytes_on_disk: number; bytes_in_memory: number };
type TableStats = {
  rows: number;
  delta_rows: number;
  segments: number;
  segment_rows: number;
  deleted_rows: number;
  bytes_on_disk: number;
  bytes_in_memory: number;
  plain_bytes: number;
  stored_bytes: number;
  compression_ratio: number;
  saved: number;
  columns: ColumnStats[];
  zone_maps: { checks: number; pruned: number };
  blooms: { checks: number; pruned: number };
  last_move: { at: string; rows: number; ms: number } | null;
  shards: ShardStats[];
};
type QueryAnswer = {
  columns: string[];
  rows: unknown[][];
  next_cursor: string | null;
  stats: { took_ms: number; shards: number; segments_scanned: number; segments_pruned: number; rows_scanned: number; plan: string };
};

const TABS = [
  { id: 'data', label: 'Data' },
  { id: 'schema', label: 'Schema' },
  { id: 'indexes', label: 'Indexes' },
  { id: 'stats', label: 'Storage stats' },
] as const;
type TabId = (typeof TABS)[number]['id'];

/** Every URL parameter of a table's view: cleared when another table is opened. */
const VIEW_PARAMS = { tab: null, cols: null, where: null, order: null, desc: null, limit: null, after: null };

const tablePath = (name: string): string => `/api/v1/tables/${seg(name)}`;

export default function TablesSection() {
  const [view, setView] = useQueryParam('view', 'browse');
  const [table] = useQueryParam('t');
  const list = useApi<TableInfo[]>('/api/v1/tables');
  const [creating, setCreating] = useState(false);
  const tables = list.data ?? [];
  useEffect(() => {
    if (view === 'browse' && table === '' && tables.length > 0) setQueryParams({ t: tables[0].name });
  }, [view, table, tables]);
  return (
    <>
      <PageHeader
        title="Tables"
        description="Columnar tables with typed columns and a primary key: browse and filter rows, manage indexes, see compression; or use CQL."
        actions={
          <button type="button" className="button primary" onClick={() => setCreating(true)}>
            New table
          </button>
        }
      />
      <Tabs
        label="Tables views"
        tabs={[
          { id: 'browse', label: 'Browse tables' },
          { id: 'cql', label: 'CQL console' },
        ]}
        value={view === 'cql' ? 'cql' : 'browse'}
        onChange={(id) => setView(id, true)}
      />
      {view === 'cql' ? (
        <CqlConsole firstTable={tables[0]?.name} onSchemaChange={list.reload} />
      ) : (
        <div className="split">
          <Panel
            title="Tables"
            actions={
              <button type="button" className="button small" onClick={list.reload} disabled={list.loading} aria-busy={list.loading}>
                {list.loading ? 'Refreshing…' : 'Refresh'}
              </button>
            }
          >
            {list.data === undefined ? (
              list.loading ? <Loading label="Loading tables…" /> : <EmptyState title="The tables could not be listed">Check the server and press Refresh.</EmptyState>
            ) : tables.length === 0 ? (
              <EmptyState title="No tables yet">Create one with “New table”, with CREATE TABLE in the SQL section, or in the CQL console.</EmptyState>
            ) : (
              <ul className="q-list" aria-label="Tables">
                {tables.map((t) => (
                  <li key={t.name}>
                    <a
                      href={`/admin/tables?t=${encodeURIComponent(t.name)}`}
                      aria-current={t.name === table ? 'page' : undefined}
                      onClick={(e) => {
                        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
                        e.preventDefault();
                        setQueryParams({ t: t.name, ...VIEW_PARAMS }, true);
                      }}
                    >
                      <span className="q-list-name">
                        {t.name} {t.cql && <Badge tone="info">CQL</Badge>}
                      </span>
                      <span className="q-list-meta">
                        {t.columns.length} columns · key ({t.primary_key.join(', ')}){t.indexes.length > 0 ? ` · ${t.indexes.length} ${t.indexes.length === 1 ? 'index' : 'indexes'}` : ''}
                      </span>
                    </a>
                  </li>
                ))}
              </ul>
            )}
          </Panel>
          <div>
            {table === '' ? (
              <Panel>
                <EmptyState title="No table open">Pick a table on the left, or create one with “New table”.</EmptyState>
              </Panel>
            ) : (
              <TableView key={table} name={table} onChanged={list.reload} />
            )}
          </div>
        </div>
      )}
      <CreateTable
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(name) => {
          setCreating(false);
          list.reload();
          setQueryParams({ view: null, t: name, ...VIEW_PARAMS }, true);
        }}
      />
    </>
  );
}

function TableView({ name, onChanged }: { name: string; onChanged: () => void }) {
  const info = useApi<TableInfo & { stats: TableStats }>(tablePath(name));
  const [tabParam, setTab] = useQueryParam('tab', 'data');
  const tab: TabId = TABS.some((t) => t.id === tabParam) ? (tabParam as TabId) : 'data';
  const drop = useAction();
  const changed = (): void => {
    info.reload();
    onChanged();
  };
  const dropTable = async (): Promise<void> => {
    const rows = info.data?.stats.rows;
    if (!(await confirmAction(`Drop table “${name}”?`, `The table${rows === undefined ? '' : ` and its ${formatNumber(rows)} rows`}, its indexes and its segments are deleted. This cannot be undone.`, 'Drop table'))) return;
    const done = await drop.run(() => api.delete(tablePath(name)), `Table “${name}” dropped`);
    if (done === undefined) return;
    onChanged();
    navigate('/tables', true);
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
          <button type="button" className="button small danger" onClick={() => void dropTable()} disabled={drop.busy}>
            {drop.busy ? 'Dropping…' : 'Drop table'}
          </button>
        </>
      }
    >
      {d === undefined ? (
        info.loading ? <Loading label="Loading the table…" /> : <EmptyState title={`No table “${name}”`}>It may have been dropped: pick another one, or create it with “New table”.</EmptyState>
      ) : (
        <>
          <div className="cards q-cards">
            <Stat label="Rows" value={formatNumber(d.stats.rows)} hint={d.stats.delta_rows > 0 ? `${formatNumber(d.stats.delta_rows)} not yet in segments` : undefined} />
            <Stat label="On disk" value={formatBytes(d.stats.bytes_on_disk)} hint={`${formatBytes(d.stats.bytes_in_memory)} in memory`} />
            <Stat label="Segments" value={formatNumber(d.stats.segments)} hint={`compression ×${formatNumber(d.stats.compression_ratio, 2)}`} />
            <Stat label="Indexes" value={d.indexes.length} hint={d.indexes.length === 0 ? `primary key (${d.primary_key.join(', ')}) only` : d.indexes.map((i) => i.name).join(', ')} />
          </div>
          <Tabs label="Table views" tabs={TABS} value={tab} onChange={(id) => setTab(id, true)} />
          {tab === 'data' && <DataTab info={d} onChanged={changed} />}
          {tab === 'schema' && <SchemaTab info={d} onChanged={changed} />}
          {tab === 'indexes' && <IndexesTab info={d} onChanged={changed} />}
          {tab === 'stats' && <StatsTab name={name} />}
        </>
      )}
    </Panel>
  );
}

// ---- where: a condition builder over the JSON `where` tree (shared/tables/where.ts) ------------------

const OPS = ['=', '!=', '<', '<=', '>', '>=', 'in', 'not_in', 'starts_with', 'is_null', 'is_not_null'] as const;
const OP_LABELS: Record<string, string> = { in: 'in list', not_in: 'not in list', starts_with: 'starts with', is_null: 'is null', is_not_null: 'is not null' };

type Condition = { col: string; op: string; value: string };
type Builder = { match: 'and' | 'or'; conditions: Condition[] };
type Leaf = { col: string; op: string; value?: unknown };

/** A typed cell from what was typed: numbers for numeric columns, booleans for boolean ones (anything else as typed: the server says what is wrong). */
function cellValue(type: string, text: string): unknown {
  const t = text.trim();
  if (type === 'int64') {
    if (/^-?\d+$/.test(t)) return Number.isSafeInteger(Number(t)) ? Number(t) : t;
    return text;
  }
  if (type === 'float64') return t !== '' && Number.isFinite(Number(t)) ? Number(t) : text;
  if (type === 'boolean') return t === 'true' ? true : t === 'false' ? false : text;
  return text;
}

function leafOf(c: Condition, columns: readonly ColumnDef[]): Leaf {
  const type = columns.find((x) => x.name === c.col)?.type ?? 'string';
  if (c.op === 'is_null' || c.op === 'is_not_null') return { col: c.col, op: c.op };
  if (c.op === 'in' || c.op === 'not_in') return { col: c.col, op: c.op, value: c.value.split(',').map((v) => cellValue(type, v.trim())) };
  return { col: c.col, op: c.op, value: cellValue(type, c.value) };
}

function whereOf(b: Builder, columns: readonly ColumnDef[]): unknown {
  const leaves = b.conditions.filter((c) => c.col !== '').map((c) => leafOf(c, columns));
  if (leaves.length === 0) return undefined;
  if (leaves.length === 1) return leaves[0];
  return { [b.match]: leaves };
}

/** The builder for a where tree it can show (leaves under one and/or), or null (the JSON editor shows it). */
function builderOf(json: unknown): Builder | null {
  const leaf = (n: unknown): Condition | null => {
    if (n === null || typeof n !== 'object' || Array.isArray(n)) return null;
    const o = n as Record<string, unknown>;
    if (typeof o.col !== 'string' || typeof o.op !== 'string' || !Object.keys(o).every((k) => ['col', 'op', 'value'].includes(k))) return null;
    const value = o.value === undefined ? '' : Array.isArray(o.value) ? o.value.map(String).join(', ') : String(o.value);
    return { col: o.col, op: o.op, value };
  };
  if (json === undefined) return { match: 'and', conditions: [] };
  const single = leaf(json);
  if (single !== null) return { match: 'and', conditions: [single] };
  if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
    const o = json as Record<string, unknown>;
    const key = Object.keys(o).length === 1 && (Array.isArray(o.and) ? 'and' : Array.isArray(o.or) ? 'or' : null);
    if (key) {
      const conditions = (o[key] as unknown[]).map(leaf);
      if (conditions.every((c) => c !== null)) return { match: key, conditions: conditions as Condition[] };
    }
  }
  return null;
}

function parseWhereText(text: string): unknown {
  try {
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return null;
  }
}

// ---- data: query builder, results, insert ------------------------------------------------------------

type Draft = { cols: string[]; mode: 'builder' | 'json'; builder: Builder; whereText: string; order: string; desc: boolean; limit: string };

function useTableQuery() {
  const { params } = useLocation();
  return {
    cols: params.get('cols') ?? '',
    where: params.get('where') ?? '',
    order: params.get('order') ?? '',
    desc: params.get('desc') === '1',
    limit: params.get('limit') ?? '50',
    after: cursorStack(params.get('after') ?? ''),
  };
}

function draftOf(q: ReturnType<typeof useTableQuery>): Draft {
  const parsed = parseWhereText(q.where);
  const builder = parsed === null ? null : builderOf(parsed);
  return {
    cols: q.cols === '' ? [] : q.cols.split(','),
    mode: builder === null ? 'json' : 'builder',
    builder: builder ?? { match: 'and', conditions: [] },
    whereText: q.where,
    order: q.order,
    desc: q.desc,
    limit: q.limit,
  };
}

function queryBody(q: ReturnType<typeof useTableQuery>): Record<string, unknown> {
  const where = parseJsonText(q.where, 'The where condition');
  const limit = Number(q.limit);
  return {
    ...(q.cols === '' ? {} : { columns: q.cols.split(',') }),
    ...(where === undefined ? {} : { where }),
    ...(q.order === '' ? {} : { order_by: [{ column: q.order, desc: q.desc }] }),
    limit: Number.isInteger(limit) && limit > 0 ? limit : 50,
  };
}

function DataTab({ info, onChanged }: { info: TableInfo; onChanged: () => void }) {
  const q = useTableQuery();
  const [draft, setDraft] = useState<Draft>(() => draftOf(q));
  useEffect(() => setDraft(draftOf(q)), [q.cols, q.where, q.order, q.desc, q.limit]); // the URL changed from outside
  const cursor = q.after.at(-1) ?? null;
  const key = JSON.stringify([info.name, info.catalog_version, q.cols, q.where, q.order, q.desc, q.limit, cursor]);
  const result = useQueryRun<QueryAnswer>(key, async (signal) => api.post<QueryAnswer>(`${tablePath(info.name)}/query`, { ...queryBody(q), ...(cursor === null ? {} : { cursor }) }, { signal }));
  const [inserting, setInserting] = useState(false);
  const action = useAction();

  const whereText = (d: Draft): string => {
    if (d.mode === 'json') return d.whereText.trim();
    const w = whereOf(d.builder, info.columns);
    return w === undefined ? '' : JSON.stringify(w);
  };
  const apply = (): void => {
    const where = whereText(draft);
    if (!checked(() => parseJsonText(where, 'The where condition'))) return;
    const next = { cols: draft.cols.join(','), where, order: draft.order, desc: draft.desc ? '1' : '', limit: draft.limit === '50' ? '' : draft.limit };
    const same = next.cols === q.cols && next.where === q.where && next.order === q.order && draft.desc === q.desc && draft.limit === q.limit && q.after.length === 0;
    setQueryParams({ ...next, after: null });
    if (same) result.reload();
  };
  const deleteMatching = async (): Promise<void> => {
    const where = parseJsonText(q.where, 'The where condition');
    const what = where === undefined ? `every row of “${info.name}”` : `the rows of “${info.name}” matching ${q.where}`;
    if (!(await confirmAction('Delete rows?', `This deletes ${what}. This cannot be undone.`, 'Delete rows'))) return;
    const done = await action.run(
      () => api.post<{ affected: number }>(`${tablePath(info.name)}/delete`, where === undefined ? {} : { where }),
      (a) => `Deleted ${formatNumber(a.data.affected)} row${a.data.affected === 1 ? '' : 's'}`,
    );
    if (done === undefined) return;
    result.reload();
    onChanged();
  };
  const setCondition = (i: number, c: Partial<Condition>): void => {
    const conditions = draft.builder.conditions.map((x, j) => (j === i ? { ...x, ...c } : x));
    setDraft({ ...draft, builder: { ...draft.builder, conditions } });
  };
  const types = new Map(info.columns.map((c) => [c.name, c.type]));
  const answer = result.data;
  const columns: Column<unknown[]>[] = (answer?.columns ?? []).map((name, i) => ({ key: String(i), label: name, numeric: NUMERIC_TYPES.has(types.get(name) ?? ''), render: (row: unknown[]) => cellNode(row[i]) }));

  return (
    <div>
      <form
        className="q-querybar"
        aria-label={`Query ${info.name}`}
        onSubmit={(e) => {
          e.preventDefault();
          apply();
        }}
      >
        <fieldset className="q-columns-pick">
          <legend>Columns (none checked: all)</legend>
          {info.columns.map((c) => (
            <label key={c.name}>
              <input
                type="checkbox"
                checked={draft.cols.includes(c.name)}
                onChange={(e) => setDraft({ ...draft, cols: e.target.checked ? info.columns.map((x) => x.name).filter((n) => n === c.name || draft.cols.includes(n)) : draft.cols.filter((n) => n !== c.name) })}
              />
              {c.name}
            </label>
          ))}
        </fieldset>
        <div className="toolbar">
          <span className="field-label">Where</span>
          <div className="q-toggle" role="group" aria-label="Where editor">
            <button
              type="button"
              className="button small"
              aria-pressed={draft.mode === 'builder'}
              onClick={() => {
                const parsed = parseWhereText(draft.whereText.trim());
                const builder = parsed === null ? null : builderOf(parsed);
                if (builder === null) notify.info('This condition is too nested for the builder: keep editing it as JSON');
                else setDraft({ ...draft, mode: 'builder', builder });
              }}
            >
              Builder
            </button>
            <button type="button" className="button small" aria-pressed={draft.mode === 'json'} onClick={() => setDraft({ ...draft, mode: 'json', whereText: whereText(draft) === '' ? '' : JSON.stringify(JSON.parse(whereText(draft)), null, 2) })}>
              JSON
            </button>
          </div>
        </div>
        {draft.mode === 'json' ? (
          <div className="q-editor">
            <CodeEditor value={draft.whereText} onChange={(whereText) => setDraft({ ...draft, whereText })} language="json" label="Where (JSON)" rows={4} onRun={apply} />
            <span className="field-hint muted">
              {'{"and": [{"col": "total", "op": ">", "value": 50}, {"col": "status", "op": "in", "value": ["paid", "shipped"]}]}'} — ops: = != &lt; &lt;= &gt; &gt;= in not_in is_null is_not_null starts_with; and / or / not nest.
            </span>
          </div>
        ) : (
          <div className="q-conditions">
            {draft.builder.conditions.length === 0 && <span className="muted">No condition: every row. Add one to filter.</span>}
            {draft.builder.conditions.map((c, i) => (
              <div className="q-condition" key={i}>
                <span className="q-join">{i === 0 ? 'where' : draft.builder.match}</span>
                <select aria-label={`Condition ${i + 1} column`} value={c.col} onChange={(e) => setCondition(i, { col: e.target.value })}>
                  {info.columns.map((col) => (
                    <option key={col.name} value={col.name}>
                      {col.name}
                    </option>
                  ))}
                </select>
                <select aria-label={`Condition ${i + 1} operator`} value={c.op} onChange={(e) => setCondition(i, { op: e.target.value })}>
                  {OPS.map((op) => (
                    <option key={op} value={op}>
                      {OP_LABELS[op] ?? op}
                    </option>
                  ))}
                </select>
                {c.op !== 'is_null' && c.op !== 'is_not_null' && (
                  <input aria-label={`Condition ${i + 1} value${c.op === 'in' || c.op === 'not_in' ? ' (comma-separated)' : ''}`} value={c.value} onChange={(e) => setCondition(i, { value: e.target.value })} />
                )}
                <button
                  type="button"
                  className="button small"
                  aria-label={`Remove condition ${i + 1}`}
                  onClick={() => setDraft({ ...draft, builder: { ...draft.builder, conditions: draft.builder.conditions.filter((_, j) => j !== i) } })}
                >
                  Remove
                </button>
              </div>
            ))}
            <div className="toolbar">
              <button
                type="button"
                className="button small"
                onClick={() => setDraft({ ...draft, builder: { ...draft.builder, conditions: [...draft.builder.conditions, { col: info.columns[0]?.name ?? '', op: '=', value: '' }] } })}
              >
                Add condition
              </button>
              {draft.builder.conditions.length > 1 && (
                <Field label="Match" className="q-narrow">
                  <select value={draft.builder.match} onChange={(e) => setDraft({ ...draft, builder: { ...draft.builder, match: e.target.value as 'and' | 'or' } })}>
                    <option value="and">all (and)</option>
                    <option value="or">any (or)</option>
                  </select>
                </Field>
              )}
            </div>
          </div>
        )}
        <div className="toolbar">
          <Field label="Order by">
            <select value={draft.order} onChange={(e) => setDraft({ ...draft, order: e.target.value })}>
              <option value="">primary key</option>
              {info.columns.map((c) => (
                <option key={c.name} value={c.name}>
                  {c.name}
                </option>
              ))}
            </select>
          </Field>
          <label className="field inline">
            <input type="checkbox" checked={draft.desc} onChange={(e) => setDraft({ ...draft, desc: e.target.checked })} disabled={draft.order === ''} /> Descending
          </label>
          <Field label="Limit" className="q-narrow">
            <input type="number" min={1} max={100000} value={draft.limit} onChange={(e) => setDraft({ ...draft, limit: e.target.value })} />
          </Field>
          <button type="submit" className="button primary" disabled={result.loading} aria-busy={result.loading}>
            {result.loading ? 'Running…' : 'Run query'}
          </button>
        </div>
      </form>
      <div className="q-head">
        <h3>Rows</h3>
        <div className="actions">
          <button type="button" className="button small" onClick={() => setInserting(true)}>
            Insert rows
          </button>
          <button type="button" className="button small danger" onClick={() => void deleteMatching()} disabled={action.busy}>
            {action.busy ? 'Deleting…' : 'Delete matching rows'}
          </button>
        </div>
      </div>
      {result.loading && answer === undefined ? (
        <Loading label="Querying…" />
      ) : answer === undefined ? (
        <EmptyState title="No rows">The query failed (see the message); change it and press “Run query”.</EmptyState>
      ) : answer.rows.length === 0 ? (
        <EmptyState title={q.where === '' && q.after.length === 0 ? 'This table is empty' : 'No row matches'}>{q.where === '' ? 'Add rows with “Insert rows”.' : 'Loosen the conditions, or remove them to see every row.'}</EmptyState>
      ) : (
        <>
          <p className="muted q-result-line" aria-live="polite" aria-busy={result.loading}>
            {result.loading
              ? `Querying page ${q.after.length + 1}…`
              : `${formatNumber(answer.rows.length)} ${answer.rows.length === 1 ? 'row' : 'rows'} on page ${q.after.length + 1} · ${formatNumber(answer.stats.took_ms, 2)} ms · plan ${answer.stats.plan} · ${formatNumber(answer.stats.rows_scanned)} rows scanned on ${answer.stats.shards} shards · segments ${answer.stats.segments_scanned} scanned, ${answer.stats.segments_pruned} pruned`}
          </p>
          <DataGrid columns={columns} rows={answer.rows} caption={`Rows of ${info.name}`} />
        </>
      )}
      <CursorPager stack={q.after} param="after" next={answer?.next_cursor} label="Row pages" />
      <InsertRows
        open={inserting}
        info={info}
        onClose={() => setInserting(false)}
        onInserted={() => {
          result.reload();
          onChanged();
        }}
      />
    </div>
  );
}

function sampleCell(c: ColumnDef): unknown {
  switch (c.type) {
    case 'int64':
      return 1;
    case 'float64':
      return 1.5;
    case 'boolean':
      return true;
    case 'timestamp':
      return new Date().toISOString();
    case 'binary':
      return 'AQID';
    default:
      return 'text';
  }
}

function InsertRows({ open, info, onClose, onInserted }: { open: boolean; info: TableInfo; onClose: () => void; onInserted: () => void }) {
  const [text, setText] = useState('');
  const [onConflict, setOnConflict] = useState('error');
  const action = useAction();
  useEffect(() => {
    if (open) setText(JSON.stringify([Object.fromEntries(info.columns.map((c) => [c.name, sampleCell(c)]))], null, 2));
  }, [open, info]);
  const insert = async (): Promise<void> => {
    let value: unknown;
    if (!checked(() => (value = parseJsonText(text, 'The rows')))) return;
    const rows = Array.isArray(value) ? value : [value];
    const done = await action.run(
      () => api.post<{ inserted: number; replaced: number; ignored: number }>(`${tablePath(info.name)}/rows`, { rows, on_conflict: onConflict }),
      (a) => `Inserted ${formatNumber(a.data.inserted)} row${a.data.inserted === 1 ? '' : 's'}${a.data.replaced > 0 ? `, replaced ${a.data.replaced}` : ''}${a.data.ignored > 0 ? `, ignored ${a.data.ignored}` : ''}`,
    );
    if (done === undefined) return;
    onInserted();
    onClose();
  };
  return (
    <Modal
      open={open}
      wide
      title={`Insert rows into ${info.name}`}
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
      <CodeEditor value={text} onChange={setText} language="json" label="Rows (JSON)" rows={14} onRun={() => void insert()} />
      <p className="field-hint muted">An array of row objects (up to 10,000): column → value. Timestamps as RFC 3339, binary as base64, an int64 beyond 2^53 as a string. Ctrl+Enter inserts.</p>
      <Field label="When the primary key exists">
        <select value={onConflict} onChange={(e) => setOnConflict(e.target.value)}>
          <option value="error">Refuse the insert (DUPLICATE_KEY)</option>
          <option value="replace">Replace the row</option>
          <option value="ignore">Keep the row, skip the new one</option>
        </select>
      </Field>
    </Modal>
  );
}

// ---- schema ------------------------------------------------------------------------------------------

function SchemaTab({ info, onChanged }: { info: TableInfo; onChanged: () => void }) {
  const action = useAction();
  const [form, setForm] = useState({ name: '', type: 'string', nullable: true, def: '' });
  const keyRole = (c: ColumnDef): string | null => {
    const at = info.primary_key.indexOf(c.name);
    if (at < 0) return null;
    return at < info.partition_key_length ? `partition key ${at + 1}` : `clustering key ${at + 1 - info.partition_key_length}${info.key_desc?.[at] === true ? ' (desc)' : ''}`;
  };
  const columns: Column<ColumnDef>[] = [
    { key: 'name', label: 'Column', render: (c) => <code>{c.name}</code> },
    { key: 'type', label: 'Type', render: (c) => <span>{c.type}{c.cql_type !== undefined && c.cql_type !== c.type ? <span className="muted"> (CQL {c.cql_type})</span> : null}</span> },
    { key: 'nullable', label: 'Nullable', render: (c) => (c.nullable ? 'yes' : <Badge>NOT NULL</Badge>) },
    { key: 'default', label: 'Default', render: (c) => cellNode(c.default) },
    { key: 'key', label: 'Key', render: (c) => (keyRole(c) === null ? '' : <Badge tone="info">{keyRole(c)}</Badge>) },
  ];
  const add = async (): Promise<void> => {
    if (!checked(() => {
      if (form.name.trim() === '') throw new Error('Give the new column a name');
    })) return;
    const body = { name: form.name.trim(), type: form.type, nullable: form.nullable, ...(form.def === '' ? {} : { default: cellValue(form.type, form.def) }) };
    const done = await action.run(() => api.post(`${tablePath(info.name)}/columns`, body), `Column “${body.name}” added`);
    if (done === undefined) return;
    setForm({ name: '', type: 'string', nullable: true, def: '' });
    onChanged();
  };
  return (
    <div>
      <dl className="q-kv">
        <dt>Primary key</dt>
        <dd>
          <code>({info.primary_key.join(', ')})</code> — the first {info.partition_key_length} partition the rows across shards
        </dd>
        <dt>Default TTL</dt>
        <dd>{info.default_ttl_seconds === 0 ? 'none (rows do not expire)' : `${formatNumber(info.default_ttl_seconds)} s`}</dd>
        <dt>Created</dt>
        <dd>{formatTime(info.created_at)}</dd>
        <dt>Made by</dt>
        <dd>{info.cql ? 'CQL (CREATE TABLE in a keyspace)' : 'the tables API or SQL'}</dd>
        <dt>Catalog version</dt>
        <dd>{info.catalog_version}</dd>
      </dl>
      <DataGrid columns={columns} rows={info.columns} caption={`Columns of ${info.name}`} rowKey={(c) => c.name} />
      <h3>Add a column</h3>
      <form
        className="q-form-row"
        onSubmit={(e) => {
          e.preventDefault();
          void add();
        }}
      >
        <Field label="Name">
          <input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} autoComplete="off" />
        </Field>
        <Field label="Type">
          <select value={form.type} onChange={(e) => setForm({ ...form, type: e.target.value })}>
            {COLUMN_TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </Field>
        <Field label="Default" hint="Optional; existing rows read it">
          <input value={form.def} onChange={(e) => setForm({ ...form, def: e.target.value })} autoComplete="off" />
        </Field>
        <label className="field inline q-top-gap">
          <input type="checkbox" checked={form.nullable} onChange={(e) => setForm({ ...form, nullable: e.target.checked })} /> Nullable
        </label>
        <div className="q-top-gap">
          <button type="submit" className="button primary" disabled={action.busy}>
            {action.busy ? 'Adding…' : 'Add column'}
          </button>
        </div>
      </form>
    </div>
  );
}

// ---- indexes -----------------------------------------------------------------------------------------

function IndexesTab({ info, onChanged }: { info: TableInfo; onChanged: () => void }) {
  const action = useAction();
  const [form, setForm] = useState({ name: '', columns: [] as string[], type: 'btree', unique: false });
  const drop = async (index: string): Promise<void> => {
    if (!(await confirmAction(`Drop index “${index}”?`, `Queries on “${info.name}” that used it scan the segments instead.`, 'Drop index'))) return;
    const done = await action.run(() => api.delete(`${tablePath(info.name)}/indexes/${seg(index)}`), `Index “${index}” dropped`);
    if (done !== undefined) onChanged();
  };
  const create = async (): Promise<void> => {
    if (!checked(() => {
      if (form.columns.length === 0) throw new Error('Check the column(s) to index');
    })) return;
    const name = form.name.trim() === '' ? `${info.name}_${form.columns.join('_')}_idx` : form.name.trim();
    const done = await action.run(() => api.post(`${tablePath(info.name)}/indexes`, { name, columns: form.columns, type: form.type, unique: form.unique }), `Index “${name}” created`);
    if (done === undefined) return;
    setForm({ name: '', columns: [], type: 'btree', unique: false });
    onChanged();
  };
  const columns: Column<IndexDef>[] = [
    { key: 'name', label: 'Name', render: (i) => <code>{i.name}</code> },
    { key: 'type', label: 'Type' },
    { key: 'columns', label: 'Columns', render: (i) => i.columns.join(', ') },
    { key: 'unique', label: 'Unique', render: (i) => (i.unique ? <Badge tone="info">unique</Badge> : 'no') },
    { key: 'state', label: 'State', render: (i) => <Badge tone={i.state === 'ready' ? 'good' : 'warn'}>{i.state}</Badge> },
    {
      key: 'drop',
      label: 'Actions',
      render: (i) => (
        <button type="button" className="button small danger" onClick={() => void drop(i.name)} disabled={action.busy} aria-label={`Drop index ${i.name}`}>
          Drop
        </button>
      ),
    },
  ];
  return (
    <div>
      {info.indexes.length === 0 ? (
        <EmptyState title="No secondary index">Lookups by primary key are already fast; index the columns you filter on (below).</EmptyState>
      ) : (
        <DataGrid columns={columns} rows={info.indexes} caption={`Indexes of ${info.name}`} rowKey={(i) => i.name} />
      )}
      <h3>Create an index</h3>
      <form
        className="q-form"
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <fieldset className="q-columns-pick">
          <legend>Columns, in key order</legend>
          {info.columns.map((c) => (
            <label key={c.name}>
              <input type="checkbox" checked={form.columns.includes(c.name)} onChange={(e) => setForm({ ...form, columns: e.target.checked ? [...form.columns, c.name] : form.columns.filter((n) => n !== c.name) })} />
              {c.name}
            </label>
          ))}
        </fieldset>
        <div className="q-form-row">
          <Field label="Name" hint={`Default: ${info.name}_<columns>_idx`}>
            <input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} autoComplete="off" />
          </Field>
          <Field label="Type">
            <select value={form.type} onChange={(e) => setForm({ ...form, type: e.target.value })}>
              <option value="btree">B-tree (ranges, order)</option>
              <option value="hash">Hash (equality)</option>
              <option value="bloom">Bloom filter (skip segments)</option>
            </select>
          </Field>
          <label className="field inline q-top-gap">
            <input type="checkbox" checked={form.unique} onChange={(e) => setForm({ ...form, unique: e.target.checked })} disabled={form.type === 'bloom'} /> Unique
          </label>
        </div>
        <button type="submit" className="button primary" disabled={action.busy}>
          {action.busy ? 'Working…' : 'Create index'}
        </button>
      </form>
    </div>
  );
}

// ---- storage stats -------------------------------------------------------------------------------------

function StatsTab({ name }: { name: string }) {
  const stats = useApi<TableStats>(`${tablePath(name)}/stats`);
  const move = useAction();
  const s = stats.data;
  const runMover = async (): Promise<void> => {
    const done = await move.run(() => api.post(`${tablePath(name)}/move`), 'The mover ran: the delta is in column segments');
    if (done !== undefined) stats.reload();
  };
  const columnCols: Column<ColumnStats>[] = [
    { key: 'name', label: 'Column', render: (c) => <code>{c.name}</code> },
    { key: 'type', label: 'Type' },
    { key: 'plain_bytes', label: 'Plain', numeric: true, render: (c) => formatBytes(c.plain_bytes) },
    { key: 'stored_bytes', label: 'Stored', numeric: true, render: (c) => formatBytes(c.stored_bytes) },
    { key: 'ratio', label: 'Ratio', numeric: true, render: (c) => `×${formatNumber(c.compression_ratio, 2)}` },
    {
      key: 'encodings',
      label: 'Encodings',
      render: (c) => (
        <span className="q-badges">
          {Object.entries(c.encodings).map(([e, n]) => (
            <Badge key={e}>
              {e} {formatBytes(n)}
            </Badge>
          ))}
        </span>
      ),
    },
    { key: 'min', label: 'Min', render: (c) => cellNode(c.zone?.min) },
    { key: 'max', label: 'Max', render: (c) => cellNode(c.zone?.max) },
    { key: 'nulls', label: 'Nulls', numeric: true, render: (c) => formatNumber(c.zone?.null_count) },
    { key: 'distinct', label: 'Distinct', numeric: true, render: (c) => formatNumber(c.zone?.distinct) },
  ];
  const shardCols: Column<ShardStats>[] = [
    { key: 'shard', label: 'Shard', numeric: true },
    { key: 'rows', label: 'Rows', numeric: true, render: (x) => formatNumber(x.rows) },
    { key: 'delta_rows', label: 'Delta rows', numeric: true, render: (x) => formatNumber(x.delta_rows) },
    { key: 'segments', label: 'Segments', numeric: true },
    { key: 'bytes_on_disk', label: 'On disk', numeric: true, render: (x) => formatBytes(x.bytes_on_disk) },
    { key: 'bytes_in_memory', label: 'In memory', numeric: true, render: (x) => formatBytes(x.bytes_in_memory) },
  ];
  return (
    <div>
      <div className="toolbar">
        <button type="button" className="button" onClick={stats.reload} disabled={stats.loading} aria-busy={stats.loading}>
          {stats.loading ? 'Refreshing…' : 'Refresh stats'}
        </button>
        <button type="button" className="button" onClick={() => void runMover()} disabled={move.busy}>
          {move.busy ? 'Moving…' : 'Run the mover now'}
        </button>
        <span className="muted q-hint">The mover turns the row delta into compressed column segments (it also runs on its own).</span>
      </div>
      {s === undefined ? (
        stats.loading ? <Loading label="Loading stats…" /> : <EmptyState title="No stats">Press “Refresh stats” to try again.</EmptyState>
      ) : (
        <>
          <div className="cards q-cards">
            <Stat label="Rows" value={formatNumber(s.rows)} hint={`${formatNumber(s.segment_rows)} in segments, ${formatNumber(s.delta_rows)} in the delta`} />
            <Stat label="Deleted rows" value={formatNumber(s.deleted_rows)} />
            <Stat label="Segments" value={formatNumber(s.segments)} />
            <Stat label="Compression" value={`×${formatNumber(s.compression_ratio, 2)}`} hint={`${formatBytes(s.plain_bytes)} plain → ${formatBytes(s.stored_bytes)} stored`} />
            <Stat label="On disk" value={formatBytes(s.bytes_on_disk)} hint={`${formatBytes(s.bytes_in_memory)} in memory`} />
            <Stat label="Zone maps" value={`${formatNumber(s.zone_maps.pruned)} pruned`} hint={`of ${formatNumber(s.zone_maps.checks)} checks; blooms ${formatNumber(s.blooms.pruned)}/${formatNumber(s.blooms.checks)}`} />
          </div>
          <p className="muted">{s.last_move === null ? 'The mover has not run yet.' : `Last mover run ${formatTime(s.last_move.at)}: ${formatNumber(s.last_move.rows)} rows in ${formatNumber(s.last_move.ms)} ms.`}</p>
          <h3>Compression per column</h3>
          <DataGrid columns={columnCols} rows={s.columns} caption={`Column storage of ${name}`} rowKey={(c) => c.name} />
          <h3>Per shard</h3>
          <DataGrid columns={shardCols} rows={s.shards} caption={`Shards of ${name}`} rowKey={(x) => String(x.shard)} />
        </>
      )}
    </div>
  );
}

// ---- create a table --------------------------------------------------------------------------------------

type NewColumn = { name: string; type: string; key: boolean; nullable: boolean; def: string };

function CreateTable({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (name: string) => void }) {
  const initial: NewColumn[] = [
    { name: 'id', type: 'int64', key: true, nullable: false, def: '' },
    { name: 'name', type: 'string', key: false, nullable: true, def: '' },
  ];
  const [name, setName] = useState('');
  const [cols, setCols] = useState<NewColumn[]>(initial);
  const [ttl, setTtl] = useState('');
  const action = useAction();
  const set = (i: number, c: Partial<NewColumn>): void => setCols(cols.map((x, j) => (j === i ? { ...x, ...c } : x)));
  const create = async (): Promise<void> => {
    const trimmed = name.trim();
    if (!checked(() => {
      if (trimmed === '') throw new Error('Give the table a name');
      if (!cols.some((c) => c.key)) throw new Error('Mark at least one column as primary key');
    })) return;
    const body = {
      name: trimmed,
      columns: cols.map((c) => ({ name: c.name.trim(), type: c.type, nullable: c.key ? false : c.nullable, ...(c.def === '' ? {} : { default: cellValue(c.type, c.def) }) })),
      primary_key: cols.filter((c) => c.key).map((c) => c.name.trim()),
      ...(ttl.trim() === '' ? {} : { default_ttl_seconds: Number(ttl) }),
    };
    const done = await action.run(() => api.post('/api/v1/tables', body), `Table “${trimmed}” created`);
    if (done === undefined) return;
    setName('');
    setCols(initial);
    setTtl('');
    onCreated(trimmed);
  };
  return (
    <Modal
      open={open}
      wide
      title="New table"
      onClose={onClose}
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="button" className="button primary" onClick={() => void create()} disabled={action.busy}>
            {action.busy ? 'Creating…' : 'Create table'}
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
        <div className="q-form-row">
          <Field label="Table name">
            <input value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" required />
          </Field>
          <Field label="Default TTL (seconds)" hint="Empty: rows never expire">
            <input type="number" min={0} value={ttl} onChange={(e) => setTtl(e.target.value)} />
          </Field>
        </div>
        <h3>Columns</h3>
        <p className="muted">The primary key is the checked columns, in this order; the first one partitions the rows across shards.</p>
        <div className="q-columns-editor">
          {cols.map((c, i) => (
            <div className="q-column-row" key={i}>
              <Field label={`Column ${i + 1} name`}>
                <input value={c.name} onChange={(e) => set(i, { name: e.target.value })} autoComplete="off" />
              </Field>
              <Field label={`Column ${i + 1} type`}>
                <select value={c.type} onChange={(e) => set(i, { type: e.target.value })}>
                  {COLUMN_TYPES.map((t) => (
                    <option key={t}>{t}</option>
                  ))}
                </select>
              </Field>
              <label className="field inline">
                <input type="checkbox" checked={c.key} onChange={(e) => set(i, { key: e.target.checked })} /> Primary key
              </label>
              <label className="field inline">
                <input type="checkbox" checked={c.key ? false : c.nullable} disabled={c.key} onChange={(e) => set(i, { nullable: e.target.checked })} /> Nullable
              </label>
              <Field label={`Column ${i + 1} default`}>
                <input value={c.def} onChange={(e) => set(i, { def: e.target.value })} autoComplete="off" />
              </Field>
              <button type="button" className="button small" onClick={() => setCols(cols.filter((_, j) => j !== i))} disabled={cols.length === 1} aria-label={`Remove column ${i + 1}`}>
                Remove
              </button>
            </div>
          ))}
        </div>
        <button type="button" className="button small" onClick={() => setCols([...cols, { name: '', type: 'string', key: false, nullable: true, def: '' }])}>
          Add column
        </button>
      </form>
    </Modal>
  );
}

// ---- CQL console --------------------------------------------------------------------------------------------

type CqlAnswer = { columns: string[]; rows: unknown[][]; paging_state: string | null };

function CqlConsole({ firstTable, onSchemaChange }: { firstTable: string | undefined; onSchemaChange: () => void }) {
  const [applied, setApplied] = useQueryParam('cql');
  const [text, setText] = useState(applied);
  // An empty console starts with a query over the first table.
  useEffect(() => {
    if (firstTable !== undefined) setText((t) => (t === '' ? `SELECT * FROM ${firstTable} LIMIT 100` : t));
  }, [firstTable]);
  const [pageSize, setPageSize] = useState('100');
  // The paging states of the pages before this one (kept here: they are long and tied to the query).
  const [states, setStates] = useState<string[]>([]);
  const [generation, setGeneration] = useState(0);
  const [armed, setArmed] = useState(() => applied !== '' && isReadOnly(applied));
  const size = Number(pageSize);
  const key = armed && applied !== '' ? JSON.stringify([applied, states.at(-1) ?? null, size, generation]) : null;
  const result = useQueryRun<CqlAnswer>(key, (signal) =>
    api.post<CqlAnswer>('/api/v1/cql', { query: applied, page_size: Number.isInteger(size) && size > 0 ? size : 100, ...(states.length === 0 ? {} : { paging_state: states.at(-1) }) }, { signal }),
  );
  useEffect(() => {
    if (result.data !== undefined && !/^\s*select/i.test(applied)) onSchemaChange();
    // A schema change (CREATE/DROP/ALTER) shows in the table list.
  }, [result.data, applied, onSchemaChange]);
  const run = (): void => {
    if (text.trim() === '') {
      notify.error(new Error('Nothing to run: write a CQL statement first'));
      return;
    }
    setArmed(true);
    setStates([]);
    setApplied(text);
    setGeneration((g) => g + 1);
  };
  const answer = result.data;
  const columns: Column<unknown[]>[] = (answer?.columns ?? []).map((name, i) => ({ key: String(i), label: name, render: (row: unknown[]) => cellNode(row[i]) }));
  return (
    <Panel title="CQL console">
      <CodeEditor value={text} onChange={setText} language="sql" label="CQL statement" rows={6} onRun={run} />
      <div className="toolbar q-top-gap">
        <button type="button" className="button primary" onClick={run} disabled={result.loading} aria-busy={result.loading}>
          {result.loading ? 'Running…' : 'Run'}
        </button>
        <Field label="Page size" className="q-narrow">
          <input type="number" min={1} max={100000} value={pageSize} onChange={(e) => setPageSize(e.target.value)} />
        </Field>
        <span className="muted q-hint">One statement (a BEGIN BATCH … APPLY BATCH counts as one). Ctrl+Enter runs. Tables made here show under Browse tables.</span>
      </div>
      <h3>Result</h3>
      {result.loading && answer === undefined ? (
        <Loading label="Running…" />
      ) : answer === undefined ? (
        <EmptyState title="No result yet">Write a statement (SELECT, INSERT, CREATE TABLE …) and press Run.</EmptyState>
      ) : answer.columns.length === 0 ? (
        <p>
          <Badge tone="good">done</Badge> {formatNumber(Number(result.meta.took_ms ?? 0), 2)} ms
        </p>
      ) : (
        <>
          <p className="muted q-result-line" aria-live="polite">
            {formatNumber(answer.rows.length)} {answer.rows.length === 1 ? 'row' : 'rows'} on page {states.length + 1} · {formatNumber(Number(result.meta.took_ms ?? 0), 2)} ms
          </p>
          {answer.rows.length === 0 ? <EmptyState title="No rows">The statement matched nothing.</EmptyState> : <DataGrid columns={columns} rows={answer.rows} caption="CQL result" />}
          {(states.length > 0 || answer.paging_state !== null) && (
            <nav className="pager" aria-label="CQL pages">
              <button type="button" className="button small" disabled={states.length === 0} onClick={() => setStates(states.slice(0, -1))}>
                ← Previous
              </button>
              <span className="muted">Page {states.length + 1}</span>
              <button type="button" className="button small" disabled={answer.paging_state === null} onClick={() => answer.paging_state !== null && setStates([...states, answer.paging_state])}>
                Next →
              </button>
            </nav>
          )}
        </>
      )}
    </Panel>
  );
}
