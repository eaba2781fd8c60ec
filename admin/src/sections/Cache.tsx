// Cache: hit rates and memory (total and per shard, refreshed every few
// seconds), the policy of each key prefix, invalidation by key, prefix or tag,
// dependencies between keys (lists and a graph) and the invalidations as they
// happen (SSE). The view lives in the URL: ?dep=<key>&feed=<prefix>.

import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { api, type Answer } from '../api';
import { Badge, confirmAction, DataGrid, EmptyState, Field, formatBytes, formatNumber, Loading, PageHeader, Panel, Stat, type Column } from '../components';
import { useAction, useApi, useEventStream, type ApiState, type StreamEvent } from '../hooks';
import { setQueryParams, useLocation } from '../router';
import { DependencyGraph } from './cache-graph';
import { AppLink, pathWith } from './kv-link';
import './Cache.css';

export default function CacheSection() {
  const { params } = useLocation();
  const feed = useFeed(params.get('feed') ?? '');
  const stats = useApi<Stats>('/api/v1/cache/stats', { refreshMs: STATS_REFRESH_MS });
  return (
    <>
      <PageHeader
        title="Cache"
        description="Hit rates and memory per shard, the caching policy of each key prefix, dependencies between keys, and invalidations as they happen."
      />
      <StatsCards stats={stats} />
      {stats.data?.enabled === true && <ShardTable shards={stats.data.shards} />}
      <div className="row">
        <InvalidateForm onDone={feed.note} />
        <LiveFeed feed={feed} />
      </div>
      <PoliciesEditor />
      <Dependencies dep={params.get('dep') ?? ''} />
    </>
  );
}

// ---- stats ------------------------------------------------------------------------------------

type Figures = {
  hits: number;
  misses: number;
  hit_rate: number | null;
  evictions: number;
  expirations: number;
  refused: number;
  fallbacks: number;
  bytes: number;
  entries: number;
  capacity: number;
};
type Stats = { enabled: boolean; total: Figures; shards: (Figures & { id: number })[] };
type Sample = { ts: number; hits: number; misses: number };

const STATS_REFRESH_MS = 3000;
const HISTORY = 40;

const percent = (x: number | null | undefined, digits = 1): string => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(digits)} %`);

function StatsCards({ stats }: { stats: ApiState<Stats> }) {
  // Lookups per second and the recent hit rate, from the difference between two polls.
  const [history, setHistory] = useState<{ rate: number; hitRate: number | null }[]>([]);
  const last = useRef<Sample | null>(null);
  useEffect(() => {
    const total = stats.data?.total;
    if (total === undefined) return;
    const now = { ts: Date.now(), hits: total.hits, misses: total.misses };
    const before = last.current;
    last.current = now;
    if (before === null || now.ts - before.ts < 500) return;
    const hits = Math.max(0, now.hits - before.hits);
    const lookups = hits + Math.max(0, now.misses - before.misses);
    const point = { rate: (lookups * 1000) / (now.ts - before.ts), hitRate: lookups === 0 ? null : hits / lookups };
    setHistory((h) => [...h.slice(-(HISTORY - 1)), point]);
  }, [stats.data]);

  if (stats.data === undefined) {
    return stats.loading ? (
      <Loading label="Loading cache statistics…" />
    ) : (
      <EmptyState title="No cache statistics">GET /api/v1/cache/stats failed (see the error); the figures come back at the next refresh.</EmptyState>
    );
  }
  const { total, enabled } = stats.data;
  if (!enabled) {
    return (
      <Panel title="Statistics">
        <EmptyState title="The cache is off">
          This server runs with <code>--cache-mb 0</code>: every read goes to storage. Start it with <code>--cache-mb 256</code> (or more) to keep hot keys in memory.
        </EmptyState>
      </Panel>
    );
  }
  const latest = history.at(-1);
  return (
    <div className="cards cache-cards" aria-busy={stats.loading}>
      <Stat label="Hit rate" value={percent(total.hit_rate)} hint={latest !== undefined && latest.hitRate !== null ? `last ${STATS_REFRESH_MS / 1000} s: ${percent(latest.hitRate)}` : 'since the server started'} />
      <Stat label="Lookups / s" value={latest === undefined ? '…' : formatNumber(latest.rate, 1)} hint={<Sparkline values={history.map((p) => p.rate)} label="Lookups per second, recent polls" />} />
      <Stat label="Hits / misses" value={`${formatNumber(total.hits)} / ${formatNumber(total.misses)}`} />
      <Stat label="Entries" value={formatNumber(total.entries)} />
      <Stat
        label="Memory"
        value={formatBytes(total.bytes)}
        hint={
          <>
            <meter min={0} max={Math.max(total.capacity, 1)} value={total.bytes} aria-label="Cache memory used" className="cache-meter" /> of {formatBytes(total.capacity)} (
            {percent(total.capacity === 0 ? null : total.bytes / total.capacity)})
          </>
        }
      />
      <Stat
        label="Evictions / expirations"
        value={`${formatNumber(total.evictions)} / ${formatNumber(total.expirations)}`}
        hint={`${formatNumber(total.refused)} refused as too large, ${formatNumber(total.fallbacks)} read fallbacks`}
      />
    </div>
  );
}

function ShardTable({ shards }: { shards: readonly (Figures & { id: number })[] }) {
  const columns: Column<Figures & { id: number }>[] = [
    { key: 'id', label: 'Shard', render: (s) => `shard ${s.id}` },
    { key: 'hit_rate', label: 'Hit rate', numeric: true, render: (s) => <RateBar value={s.hit_rate} /> },
    { key: 'hits', label: 'Hits', numeric: true, render: (s) => formatNumber(s.hits) },
    { key: 'misses', label: 'Misses', numeric: true, render: (s) => formatNumber(s.misses) },
    { key: 'entries', label: 'Entries', numeric: true, render: (s) => formatNumber(s.entries) },
    { key: 'bytes', label: 'Memory', numeric: true, render: (s) => `${formatBytes(s.bytes)} / ${formatBytes(s.capacity)}` },
    { key: 'evictions', label: 'Evictions', numeric: true, render: (s) => formatNumber(s.evictions) },
    { key: 'expirations', label: 'Expired', numeric: true, render: (s) => formatNumber(s.expirations) },
    { key: 'refused', label: 'Refused', numeric: true, render: (s) => formatNumber(s.refused) },
  ];
  return (
    <Panel title="Per shard" className="cache-shards" actions={<span className="muted cache-refresh">refreshed every {STATS_REFRESH_MS / 1000} s</span>}>
      <DataGrid columns={columns} rows={shards} rowKey={(s) => String(s.id)} caption="Cache statistics per shard" />
    </Panel>
  );
}

function RateBar({ value }: { value: number | null }) {
  return (
    <span className="rate-bar">
      <span className="rate-track" aria-hidden="true">
        <span className="rate-fill" style={{ width: `${Math.round((value ?? 0) * 100)}%` }} />
      </span>
      {percent(value)}
    </span>
  );
}

function Sparkline({ values, label }: { values: readonly number[]; label: string }) {
  if (values.length < 2) return <span>collecting…</span>;
  const max = Math.max(...values, 1);
  const w = 120;
  const h = 24;
  const points = values.map((v, i) => `${((i / (values.length - 1)) * w).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`).join(' ');
  return (
    <svg className="sparkline" width={w} height={h} viewBox={`0 0 ${w} ${h}`} role="img" aria-label={`${label}: latest ${formatNumber(values.at(-1), 1)}, peak ${formatNumber(max, 1)}`}>
      <polyline points={points} fill="none" />
    </svg>
  );
}

// ---- policies ---------------------------------------------------------------------------------

const POLICIES = [
  ['write-through', 'a write updates storage and the cache before it is acknowledged (the default)'],
  ['read-through', 'write-through, and a read that misses loads the value into the cache'],
  ['write-back', 'a write is acknowledged from the cache at once and reaches the WAL within --write-back-ms (a crash can lose that window)'],
  ['write-around', 'writes go to storage only; a cached copy is dropped'],
  ['cache-only', 'memory only, never stored: lost on restart or eviction, and a miss is a 404'],
] as const;

type Rule = { prefix: string; policy: string; read_through?: boolean };
type Policies = { policies: Rule[]; source: 'data-dir' | 'config-file' | 'default' };
type Row = { id: number; prefix: string; policy: string; readThrough: '' | 'on' | 'off' };

let rowIds = 0;
const rowOf = (r: Rule): Row => ({ id: ++rowIds, prefix: r.prefix, policy: r.policy, readThrough: r.read_through === undefined ? '' : r.read_through ? 'on' : 'off' });
const ruleOf = (r: Row): Rule => (r.readThrough === '' ? { prefix: r.prefix, policy: r.policy } : { prefix: r.prefix, policy: r.policy, read_through: r.readThrough === 'on' });
const SOURCES: Record<Policies['source'], string> = { 'data-dir': 'saved in the data directory', 'config-file': 'from the config file', default: 'defaults' };

function PoliciesEditor() {
  const policies = useApi<Policies>('/api/v1/cache/policies');
  const [rows, setRows] = useState<Row[]>([]);
  const [saved, setSaved] = useState('[]');
  const action = useAction();
  const load = useCallback((data: Policies) => {
    setRows(data.policies.map(rowOf));
    setSaved(JSON.stringify(data.policies));
  }, []);
  useEffect(() => {
    if (policies.data !== undefined) load(policies.data);
  }, [policies.data, load]);
  const dirty = JSON.stringify(rows.map(ruleOf)) !== saved;
  const update = (id: number, change: Partial<Row>): void => setRows((rs) => rs.map((r) => (r.id === id ? { ...r, ...change } : r)));
  const save = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const answer = await action.run(
      () => api.put<Policies>('/api/v1/cache/policies', { policies: rows.map(ruleOf) }),
      (a: Answer<Policies>) => `Saved ${a.data.policies.length} cache ${a.data.policies.length === 1 ? 'policy' : 'policies'}`,
    );
    if (answer !== undefined) load(answer.data);
  };

  return (
    <Panel
      title="Policies"
      className="cache-policies"
      actions={policies.data !== undefined && <Badge tone={policies.data.source === 'default' ? 'neutral' : 'info'}>{SOURCES[policies.data.source]}</Badge>}
    >
      {policies.data === undefined ? (
        policies.loading ? <Loading label="Loading policies…" /> : <EmptyState title="Policies unavailable">GET /api/v1/cache/policies failed; see the error above.</EmptyState>
      ) : (
        <div className="policies-layout">
          <form onSubmit={(e) => void save(e)}>
            {rows.length === 0 ? (
              <EmptyState title="No rules: every key is write-through with read-through">
                Add a rule to cache a prefix differently, e.g. <code>session:</code> as cache-only or <code>counter:</code> as write-back.
              </EmptyState>
            ) : (
              <div className="grid-wrap">
                <table className="grid cache-rules">
                  <caption className="sr-only">Cache policy rules; the longest matching prefix wins</caption>
                  <thead>
                    <tr>
                      <th scope="col">Key prefix</th>
                      <th scope="col">Policy</th>
                      <th scope="col">Read-through</th>
                      <th scope="col">
                        <span className="sr-only">Remove</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((r, i) => (
                      <tr key={r.id}>
                        <td>
                          <input aria-label={`Prefix of rule ${i + 1}`} value={r.prefix} onChange={(e) => update(r.id, { prefix: e.target.value })} spellCheck={false} autoComplete="off" />
                        </td>
                        <td>
                          <select aria-label={`Policy of rule ${i + 1}`} value={r.policy} onChange={(e) => update(r.id, { policy: e.target.value })}>
                            {!POLICIES.some(([p]) => p === r.policy) && <option value={r.policy}>{r.policy}</option>}
                            {POLICIES.map(([p]) => (
                              <option key={p} value={p}>
                                {p}
                              </option>
                            ))}
                          </select>
                        </td>
                        <td>
                          <select aria-label={`Read-through of rule ${i + 1}`} value={r.readThrough} onChange={(e) => update(r.id, { readThrough: e.target.value as Row['readThrough'] })}>
                            <option value="">default</option>
                            <option value="on">on</option>
                            <option value="off">off</option>
                          </select>
                        </td>
                        <td>
                          <button type="button" className="button small" aria-label={`Remove rule ${i + 1}${r.prefix === '' ? '' : ` (${r.prefix})`}`} onClick={() => setRows((rs) => rs.filter((x) => x.id !== r.id))}>
                            Remove
                          </button>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            <div className="actions cache-policy-actions">
              <button type="button" className="button small" onClick={() => setRows((rs) => [...rs, { id: ++rowIds, prefix: '', policy: 'write-through', readThrough: '' }])}>
                Add rule
              </button>
              <span className="spacer" />
              {dirty && <Badge tone="warn">unsaved changes</Badge>}
              <button type="button" className="button small" disabled={!dirty || action.busy} onClick={() => load(policies.data as Policies)}>
                Discard
              </button>
              <button type="submit" className="button small primary" disabled={!dirty || action.busy} aria-busy={action.busy}>
                {action.busy ? 'Saving…' : 'Save policies'}
              </button>
            </div>
          </form>
          <aside className="cache-legend" aria-label="What each policy does">
            <h3>What each policy does</h3>
            <dl>
              {POLICIES.map(([p, what]) => (
                <div key={p}>
                  <dt>{p}</dt>
                  <dd>{what}</dd>
                </div>
              ))}
            </dl>
            <p className="muted">The longest matching prefix wins; an empty prefix matches every key. Read-through “default” is on, except for cache-only.</p>
          </aside>
        </div>
      )}
    </Panel>
  );
}

// ---- invalidate -----------------------------------------------------------------------------

type Target = 'key' | 'prefix' | 'tag';
type Invalidated = { key?: string; prefix?: string; tag?: string; invalidated: number; keys: number; dependents: number };

const TARGET_HINTS: Record<Target, string> = {
  key: 'Drops the cached copy of this key, and of the keys that depend on it.',
  prefix: 'Every cached key starting with this text; empty: every cached key.',
  tag: 'Every key written with this tag (PUT …?tags=).',
};

function InvalidateForm({ onDone }: { onDone: (text: string, target: string) => void }) {
  const [target, setTarget] = useState<Target>('key');
  const [value, setValue] = useState('');
  const action = useAction();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (target === 'prefix' && value === '' && !(await confirmAction('Invalidate every key', 'Drop every cached entry on every shard? Reads go to storage until the cache warms up again.', 'Invalidate all'))) return;
    const answer = await action.run(
      () => api.post<Invalidated>('/api/v1/cache/invalidate', { [target]: value }),
      (a) => `Invalidated ${formatNumber(a.data.invalidated)} cached ${a.data.invalidated === 1 ? 'entry' : 'entries'} (${formatNumber(a.data.keys)} keys named, ${formatNumber(a.data.dependents)} dependents)`,
    );
    if (answer !== undefined) {
      const d = answer.data;
      onDone(`${d.invalidated} removed, ${d.keys} named, ${d.dependents} dependents`, target === 'prefix' && value === '' ? 'every key' : `${target} ${value}`);
    }
  };
  return (
    <Panel title="Invalidate" className="cache-invalidate">
      <form onSubmit={(e) => void submit(e)}>
        <fieldset className="cache-targets">
          <legend>Invalidate by</legend>
          {(['key', 'prefix', 'tag'] as const).map((t) => (
            <label key={t} className="field inline">
              <input type="radio" name="target" value={t} checked={target === t} onChange={() => setTarget(t)} />
              {t === 'key' ? 'Key' : t === 'prefix' ? 'Prefix' : 'Tag'}
            </label>
          ))}
        </fieldset>
        <Field label={target === 'key' ? 'Key' : target === 'prefix' ? 'Prefix' : 'Tag'} hint={TARGET_HINTS[target]}>
          <input name="target-value" value={value} onChange={(e) => setValue(e.target.value)} spellCheck={false} autoComplete="off" required={target !== 'prefix'} />
        </Field>
        <button type="submit" className="button primary" disabled={action.busy} aria-busy={action.busy}>
          {action.busy ? 'Invalidating…' : 'Invalidate'}
        </button>
      </form>
      <p className="muted cache-note">Invalidation drops cached copies only: the stored values stay, and the next read loads them again.</p>
    </Panel>
  );
}

// ---- dependencies -----------------------------------------------------------------------------

function Dependencies({ dep }: { dep: string }) {
  const [draft, setDraft] = useState(dep);
  useEffect(() => setDraft(dep), [dep]);
  const children = useApi<{ children: string[] }>(dep === '' ? null : '/api/v1/cache/dependencies', { query: { parent: dep } });
  const parents = useApi<{ parents: string[] }>(dep === '' ? null : '/api/v1/cache/dependencies', { query: { child: dep } });
  const reload = (): void => {
    children.reload();
    parents.reload();
  };
  const action = useAction();
  const remove = async (parent: string, child: string): Promise<void> => {
    const ok = await confirmAction('Remove dependency', <>Stop invalidating <code>{child}</code> when <code>{parent}</code> changes?</>, 'Remove');
    if (!ok) return;
    const done = await action.run(() => api.delete('/api/v1/cache/dependencies', { query: { parent, child } }), `Removed ${parent} → ${child}`);
    if (done !== undefined) reload();
  };
  const loading = children.loading || parents.loading;
  const childList = children.data?.children ?? [];
  const parentList = parents.data?.parents ?? [];

  return (
    <Panel title="Dependencies" className="cache-deps">
      <p className="muted cache-note">When a parent key changes (write, delete, expiry or invalidation), its children are invalidated too.</p>
      <form
        className="toolbar align-top"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setQueryParams({ dep: draft }, true);
        }}
      >
        <Field label="Key" hint="A key to see its parents and children, e.g. user:1" className="grow">
          <input name="dep" value={draft} onChange={(e) => setDraft(e.target.value)} spellCheck={false} autoComplete="off" />
        </Field>
        <button type="submit" className="button">
          Show dependencies
        </button>
      </form>
      <div className="deps-layout">
        <div>
          {dep === '' ? (
            <EmptyState title="No key chosen">Enter a key above to list what it invalidates and what invalidates it, or add a dependency below.</EmptyState>
          ) : loading && (children.data === undefined || parents.data === undefined) ? (
            <Loading label="Loading dependencies…" />
          ) : (
            <>
              <EdgeList title={`Parents of ${dep}`} empty="No parents: nothing else invalidates this key." keys={parentList} onRemove={(k) => void remove(k, dep)} busy={action.busy} />
              <EdgeList title={`Children of ${dep}`} empty="No children: changing this key invalidates nothing else." keys={childList} onRemove={(k) => void remove(dep, k)} busy={action.busy} />
            </>
          )}
          <AddDependency dep={dep} onAdded={(parent) => (dep === '' ? setQueryParams({ dep: parent }, true) : reload())} />
        </div>
        <div className="deps-graph">
          {dep !== '' && children.data !== undefined && parents.data !== undefined && (
            <figure>
              <DependencyGraph center={dep} parents={parentList} children={childList} />
              <figcaption className="muted">Select a parent or child to follow it; select the key in the middle to open its value.</figcaption>
            </figure>
          )}
        </div>
      </div>
    </Panel>
  );
}

function EdgeList({ title, empty, keys, onRemove, busy }: { title: string; empty: string; keys: readonly string[]; onRemove: (key: string) => void; busy: boolean }) {
  return (
    <section className="edge-list" aria-label={title} aria-busy={busy}>
      <h3>
        {title} <span className="muted">({keys.length})</span>
      </h3>
      {keys.length === 0 ? (
        <p className="muted">{empty}</p>
      ) : (
        <ul>
          {keys.map((k) => (
            <li key={k}>
              <AppLink to={pathWith('cache', { dep: k })} className="mono">
                {k}
              </AppLink>
              <button type="button" className="button small" disabled={busy} aria-label={`Remove the dependency with ${k}`} onClick={() => onRemove(k)}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function AddDependency({ dep, onAdded }: { dep: string; onAdded: (parent: string) => void }) {
  const [parent, setParent] = useState(dep);
  const [child, setChild] = useState('');
  useEffect(() => setParent(dep), [dep]);
  const action = useAction();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const answer = await action.run(
      () => api.post<{ created: boolean }>('/api/v1/cache/dependencies', { parent, child }),
      (a) => (a.data.created ? `${child} now depends on ${parent}` : `${child} already depended on ${parent}`),
    );
    if (answer !== undefined) {
      setChild('');
      onAdded(parent);
    }
  };
  return (
    <form className="add-dep" onSubmit={(e) => void submit(e)}>
      <h3>Add a dependency</h3>
      <p className="muted cache-note">A change of the parent invalidates the child.</p>
      <div className="toolbar">
        <Field label="Parent">
          <input name="parent" value={parent} onChange={(e) => setParent(e.target.value)} spellCheck={false} autoComplete="off" />
        </Field>
        <button
          type="button"
          className="button small swap"
          aria-label="Swap parent and child"
          onClick={() => {
            setParent(child);
            setChild(parent);
          }}
        >
          ⇄
        </button>
        <Field label="Child">
          <input name="child" value={child} onChange={(e) => setChild(e.target.value)} spellCheck={false} autoComplete="off" />
        </Field>
        <button type="submit" className="button primary" disabled={action.busy} aria-busy={action.busy}>
          {action.busy ? 'Adding…' : 'Add'}
        </button>
      </div>
    </form>
  );
}

// ---- live invalidations -------------------------------------------------------------------------

type Entry = { id: number; ts: number; kind: 'invalidation' | 'warning' | 'reset' | 'request'; reason: string; key?: string; detail?: string };
type Feed = ReturnType<typeof useFeed>;

const FEED_MAX = 200;
const REASON_TONES: Record<string, 'neutral' | 'good' | 'warn' | 'bad' | 'info'> = {
  write: 'info',
  delete: 'bad',
  ttl: 'warn',
  eviction: 'warn',
  cascade: 'neutral',
  explicit: 'good',
  low_hit_rate: 'warn',
  shard_restart: 'bad',
  request: 'good',
};

function entryOf(event: StreamEvent, id: number): Entry | null {
  if (event.event !== 'invalidation' && event.event !== 'warning' && event.event !== 'reset') return null;
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(event.data) as Record<string, unknown>;
  } catch {
    return null;
  }
  const ts = typeof data.ts === 'number' ? data.ts : Date.now();
  const reason = String(data.reason ?? event.event);
  if (event.event === 'invalidation') return { id, ts, kind: 'invalidation', reason, key: String(data.key) };
  if (event.event === 'warning') return { id, ts, kind: 'warning', reason, detail: `shard ${String(data.shard)}: hit rate ${percent(data.hit_rate as number)} under ${percent(data.threshold as number, 0)} over ${String(data.window_s)} s` };
  return { id, ts, kind: 'reset', reason, detail: `shard ${String(data.shard)} restarted: its cached entries are gone` };
}

/** The feed's state: newest first, bounded; while paused, new events wait (bounded too). */
function useFeed(prefix: string) {
  const [entries, setEntries] = useState<Entry[]>([]);
  const [held, setHeld] = useState<Entry[]>([]);
  const [paused, setPaused] = useState(false);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const ids = useRef(0);
  const add = useCallback((entry: Entry) => {
    if (pausedRef.current) setHeld((h) => [entry, ...h].slice(0, FEED_MAX));
    else setEntries((e) => [entry, ...e].slice(0, FEED_MAX));
  }, []);
  const stream = useEventStream(
    '/api/v1/cache/invalidations/stream',
    (event) => {
      const entry = entryOf(event, ++ids.current);
      if (entry !== null) add(entry);
    },
    { prefix },
  );
  const note = useCallback((detail: string, target: string) => add({ id: ++ids.current, ts: Date.now(), kind: 'request', reason: 'request', key: undefined, detail: `invalidate ${target}: ${detail}` }), [add]);
  const resume = (): void => {
    setEntries((e) => [...held, ...e].slice(0, FEED_MAX));
    setHeld([]);
    setPaused(false);
  };
  return { entries, held: held.length, paused, pause: () => setPaused(true), resume, clear: () => setEntries([]), note, connected: stream.connected, error: stream.error, prefix };
}

function LiveFeed({ feed }: { feed: Feed }) {
  const [draft, setDraft] = useState(feed.prefix);
  useEffect(() => setDraft(feed.prefix), [feed.prefix]);
  const counts = useMemo(() => {
    const c = new Map<string, number>();
    for (const e of feed.entries) c.set(e.reason, (c.get(e.reason) ?? 0) + 1);
    return [...c.entries()].sort((a, b) => b[1] - a[1]);
  }, [feed.entries]);
  return (
    <Panel
      title="Live invalidations"
      className="cache-feed"
      actions={
        <>
          <span className="feed-status" role="status">
            <span className={`dot ${feed.connected ? 'good' : 'bad'}`} aria-hidden="true" />
            {feed.paused ? `Paused${feed.held > 0 ? ` (${feed.held} new)` : ''}` : feed.connected ? 'Live' : 'Connecting…'}
          </span>
          <button type="button" className="button small" aria-pressed={feed.paused} onClick={feed.paused ? feed.resume : feed.pause}>
            {feed.paused ? 'Resume' : 'Pause'}
          </button>
          <button type="button" className="button small" disabled={feed.entries.length === 0} onClick={feed.clear}>
            Clear
          </button>
        </>
      }
    >
      <form
        className="toolbar align-top"
        onSubmit={(e) => {
          e.preventDefault();
          setQueryParams({ feed: draft });
        }}
      >
        <Field label="Only keys starting with" hint="Empty: every key. Applies to new events." className="grow">
          <input name="feed-prefix" value={draft} onChange={(e) => setDraft(e.target.value)} spellCheck={false} autoComplete="off" />
        </Field>
        <button type="submit" className="button">
          Filter
        </button>
      </form>
      {counts.length > 0 && (
        <p className="feed-counts muted">
          <span className="sr-only">Events by reason:</span>
          {counts.map(([reason, n]) => (
            <span key={reason}>
              <Badge tone={REASON_TONES[reason] ?? 'neutral'}>{reason}</Badge> {n}
            </span>
          ))}
        </p>
      )}
      {feed.entries.length === 0 ? (
        <EmptyState title={feed.connected ? 'Waiting for invalidations' : 'Connecting to the invalidation stream…'}>
          Writes, deletes, expiries, evictions and invalidations of keys{feed.prefix === '' ? '' : ` starting with “${feed.prefix}”`} appear here as they happen, newest first. Invalidate a key above to see one.
        </EmptyState>
      ) : (
        <div className="feed" tabIndex={0} role="region" aria-label="Invalidation events, newest first">
          <ol>
            {feed.entries.map((e) => (
              <li key={e.id} className={`feed-entry ${e.kind}`}>
                <time dateTime={new Date(e.ts).toISOString()}>{clock(e.ts)}</time>
                <Badge tone={REASON_TONES[e.reason] ?? 'neutral'}>{e.reason}</Badge>
                {e.key !== undefined ? (
                  <AppLink to={pathWith('kv', { key: e.key })} className="mono">
                    {e.key}
                  </AppLink>
                ) : (
                  <span>{e.detail}</span>
                )}
              </li>
            ))}
          </ol>
        </div>
      )}
    </Panel>
  );
}

function clock(ts: number): string {
  const d = new Date(ts);
  return `${d.toLocaleTimeString('en-GB', { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}
