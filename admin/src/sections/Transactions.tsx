// Transactions: how many are open, commit/abort/conflict rates and totals
// (the server's Prometheus counters, sampled here every 2 s), open
// transactions over the metric history, and a console that runs one: atomic
// (POST /api/v1/txn/execute) or interactive (POST /api/v1/txn, then KV
// requests with Mantis-Txn, then commit or rollback).
//
// The server has no route listing open transactions (only their count), so
// the interactive ones begun from this tab are listed here, kept in
// sessionStorage so a reload still finds them.

import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { api, ApiError, requestRaw, seg } from '../api';
import { Badge, DataGrid, EmptyState, Field, formatNumber, Loading, PageHeader, Panel, Stat, type Column } from '../components';
import { useAction, useApi } from '../hooks';
import { useQueryParam } from '../router';
import { notify } from '../toast';
import { TimeChart, type ChartData } from './ops-chart';
import './Transactions.css';

// ---- Prometheus text --------------------------------------------------------------

type PromSample = { readonly name: string; readonly labels: Readonly<Record<string, string>>; readonly value: number };

/** The sample lines of the Prometheus text format (comments and blank lines skipped). */
function parsePrometheus(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, '$1');
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    if (!Number.isNaN(value)) out.push({ name: m[1], labels, value });
  }
  return out;
}

const CONFLICT_REASONS = ['write', 'read', 'range', 'locked', 'condition'];
/** The server's abort reasons in words (others are shown as they come). */
const REASON_TEXT: Record<string, string> = {
  execute_failed: 'atomic request failed (a condition or an operation)',
  rollback: 'rolled back',
  expired: 'idle timeout',
  snapshot_too_old: 'snapshot too old',
  outcome_unknown: 'outcome unknown',
};

type TxnFigures = {
  readonly begun: number;
  readonly active: number;
  readonly commits: number;
  readonly commitsByPath: Record<string, number>;
  readonly aborts: number;
  readonly abortsByReason: Record<string, number>;
  readonly conflicts: number;
  /** Shard validations refused: shard → reason → count. */
  readonly shardConflicts: Record<string, Record<string, number>>;
  readonly shardCommits: Record<string, number>;
  readonly intents: number;
  readonly versionBytes: number;
  /** Commit latency percentiles estimated from the histogram's buckets (ms); null without commits. */
  readonly commitP50: number | null;
  readonly commitP99: number | null;
};

function quantile(buckets: { le: number; count: number }[], q: number): number | null {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe;
      // Linear inside the bucket, as Prometheus' histogram_quantile does.
      const inBucket = b.count - prevCount;
      return inBucket === 0 ? b.le : prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

function txnFigures(samples: readonly PromSample[]): TxnFigures {
  const f = {
    begun: 0,
    active: 0,
    commits: 0,
    commitsByPath: {} as Record<string, number>,
    aborts: 0,
    abortsByReason: {} as Record<string, number>,
    conflicts: 0,
    shardConflicts: {} as Record<string, Record<string, number>>,
    shardCommits: {} as Record<string, number>,
    intents: 0,
    versionBytes: 0,
  };
  const buckets = new Map<number, number>();
  for (const s of samples) {
    switch (s.name) {
      case 'mantis_txn_begun_total':
        f.begun += s.value;
        break;
      case 'mantis_txn_active':
        f.active += s.value;
        break;
      case 'mantis_txn_commits_total':
        f.commits += s.value;
        f.commitsByPath[s.labels.path ?? ''] = (f.commitsByPath[s.labels.path ?? ''] ?? 0) + s.value;
        break;
      case 'mantis_txn_aborts_total': {
        const reason = s.labels.reason ?? 'other';
        f.aborts += s.value;
        f.abortsByReason[reason] = (f.abortsByReason[reason] ?? 0) + s.value;
        if (CONFLICT_REASONS.includes(reason)) f.conflicts += s.value;
        break;
      }
      case 'mantis_txn_shard_conflicts_total': {
        const shard = s.labels.shard ?? '?';
        (f.shardConflicts[shard] ??= {})[s.labels.reason ?? 'other'] = s.value;
        break;
      }
      case 'mantis_txn_shard_commits_total':
        f.shardCommits[s.labels.shard ?? '?'] = s.value;
        break;
      case 'mantis_txn_intents':
        f.intents += s.value;
        break;
      case 'mantis_txn_version_bytes':
        f.versionBytes += s.value;
        break;
      case 'mantis_txn_commit_seconds_bucket': {
        const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
        buckets.set(le, (buckets.get(le) ?? 0) + s.value);
        break;
      }
    }
  }
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
  const ms = (v: number | null): number | null => (v === null ? null : v * 1000);
  return { ...f, commitP50: ms(quantile(sorted, 0.5)), commitP99: ms(quantile(sorted, 0.99)) };
}

// ---- counter sampling ---------------------------------------------------------------

type Reading = { readonly t: number; readonly commits: number; readonly aborts: number; readonly conflicts: number };
const READINGS_KEY = 'mantis.txn.readings';
const SAMPLE_MS = 2000;
const KEEP_MS = 15 * 60_000;

function loadReadings(): Reading[] {
  try {
    const parsed = JSON.parse(sessionStorage.getItem(READINGS_KEY) ?? '[]') as Reading[];
    return Array.isArray(parsed) ? parsed.filter((r) => Date.now() - r.t < KEEP_MS) : [];
  } catch {
    return [];
  }
}

/** Polls GET /api/metrics/prometheus; the readings (kept across reloads in this tab) give the rates. */
function useTxnCounters(): { figures: TxnFigures | undefined; readings: readonly Reading[]; error: Error | undefined; refresh: () => void } {
  const [figures, setFigures] = useState<TxnFigures | undefined>(undefined);
  const [readings, setReadings] = useState<Reading[]>(loadReadings);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [poke, setPoke] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let reported = false;
    const sample = async (): Promise<void> => {
      try {
        const response = await requestRaw('GET', '/api/metrics/prometheus', { headers: { Accept: 'text/plain' }, signal: controller.signal });
        const f = txnFigures(parsePrometheus(await response.text()));
        setFigures(f);
        setError(undefined);
        reported = false;
        setReadings((prev) => {
          const next = [...prev.filter((r) => Date.now() - r.t < KEEP_MS), { t: Date.now(), commits: f.commits, aborts: f.aborts, conflicts: f.conflicts }];
          try {
            sessionStorage.setItem(READINGS_KEY, JSON.stringify(next));
          } catch {
            // storage full or off: the chart still works for this page
          }
          return next;
        });
      } catch (e) {
        if (controller.signal.aborted) return;
        // One toast per outage, not one per poll.
        if (!reported) notify.error(e);
        reported = true;
        setError(e as Error);
      }
      if (!controller.signal.aborted) timer = setTimeout(() => void sample(), SAMPLE_MS);
    };
    void sample();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [poke]);
  const refresh = useCallback(() => setPoke((p) => p + 1), []);
  return { figures, readings, error, refresh };
}

/** Per-second rates between consecutive readings (a counter that went down means a restart: 0). */
function rates(readings: readonly Reading[]): ChartData {
  const x: number[] = [];
  const commits: (number | null)[] = [];
  const aborts: (number | null)[] = [];
  const conflicts: (number | null)[] = [];
  for (let i = 1; i < readings.length; i++) {
    const a = readings[i - 1];
    const b = readings[i];
    const dt = (b.t - a.t) / 1000;
    if (dt <= 0) continue;
    const rate = (p: number, n: number): number => (n < p ? 0 : (n - p) / dt);
    // A gap (page closed meanwhile) is drawn as a break, not as a long average.
    const gap = dt > (SAMPLE_MS / 1000) * 5;
    x.push(b.t / 1000);
    commits.push(gap ? null : rate(a.commits, b.commits));
    aborts.push(gap ? null : rate(a.aborts, b.aborts));
    conflicts.push(gap ? null : rate(a.conflicts, b.conflicts));
  }
  return { x, ys: [commits, aborts, conflicts] };
}

// ---- interactive transactions begun from this tab --------------------------------------------

type LocalTxn = {
  readonly id: string;
  readonly isolation: string;
  readonly timeout_ms: number;
  readonly snapshot_ts: number;
  readonly begun_at: number;
  readonly state: 'open' | 'committed' | 'rolled back' | 'failed';
  readonly detail?: string;
};
const TXNS_KEY = 'mantis.txn.local';

function loadTxns(): LocalTxn[] {
  try {
    const parsed = JSON.parse(sessionStorage.getItem(TXNS_KEY) ?? '[]') as LocalTxn[];
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

function useLocalTxns(): [readonly LocalTxn[], (update: (list: LocalTxn[]) => LocalTxn[]) => void] {
  const [list, setList] = useState<LocalTxn[]>(loadTxns);
  const update = useCallback((fn: (l: LocalTxn[]) => LocalTxn[]) => {
    setList((prev) => {
      const next = fn(prev).slice(-20);
      try {
        sessionStorage.setItem(TXNS_KEY, JSON.stringify(next));
      } catch {
        // not persisted; the list still works until reload
      }
      return next;
    });
  }, []);
  return [list, update];
}

// ---- the page ---------------------------------------------------------------------------------

const ISOLATIONS = ['serializable', 'snapshot', 'repeatable_read', 'read_committed'] as const;
const WINDOWS = [
  { minutes: '5', label: 'Last 5 minutes' },
  { minutes: '15', label: 'Last 15 minutes' },
  { minutes: '60', label: 'Last hour' },
];

type Snapshot = { ts: number; open_transactions: number | null };

export default function TransactionsSection() {
  const [windowMinutes, setWindow] = useQueryParam('window', '15');
  const counters = useTxnCounters();
  const history = useApi<Snapshot[]>('/api/v1/metrics/history', { query: { minutes: windowMinutes }, refreshMs: 5000 });
  const [txns, updateTxns] = useLocalTxns();
  const f = counters.figures;

  const openSeries = useMemo<ChartData>(() => {
    const rows = history.data ?? [];
    // One point in five for the hour view: the chart stays light, the shape stays.
    const step = rows.length > 1200 ? 5 : 1;
    const picked = rows.filter((_, i) => i % step === 0 || i === rows.length - 1);
    return { x: picked.map((r) => r.ts / 1000), ys: [picked.map((r) => r.open_transactions)] };
  }, [history.data]);
  const rateSeries = useMemo(() => rates(counters.readings), [counters.readings]);

  return (
    <>
      <PageHeader
        title="Transactions"
        description="Open transactions, commit and abort rates and conflicts, from the server's transaction counters; run a transaction below to see them move."
        actions={
          <Field label="History window" className="inline">
            <select value={windowMinutes} onChange={(e) => setWindow(e.target.value)}>
              {WINDOWS.map((w) => (
                <option key={w.minutes} value={w.minutes}>
                  {w.label}
                </option>
              ))}
            </select>
          </Field>
        }
      />
      {f === undefined ? (
        counters.error === undefined ? <Loading label="Reading the transaction counters…" /> : <EmptyState title="The transaction counters could not be read">GET /api/metrics/prometheus failed; the notification says why. The page retries every 2 s.</EmptyState>
      ) : (
        <div className="cards" data-testid="txn-stats">
          <Stat label="Open now" value={formatNumber(f.active)} hint="begun and not yet ended" />
          <Stat label="Begun" value={formatNumber(f.begun)} hint="since the server started" />
          <Stat label="Committed" value={formatNumber(f.commits)} hint={Object.entries(f.commitsByPath).map(([p, n]) => `${p.replace('_', '-')} ${formatNumber(n)}`).join(' · ') || 'none yet'} />
          <Stat label="Aborted" value={formatNumber(f.aborts)} hint="rollbacks, conflicts, expiries" />
          <Stat label="Conflicts" value={formatNumber(f.conflicts)} hint="aborted on a write, read, range or lock conflict" />
          <Stat label="Commit latency" value={f.commitP50 === null ? '–' : `${formatNumber(f.commitP50, 2)} ms`} hint={f.commitP99 === null ? 'p50 · no commits yet' : `p50 · p99 ${formatNumber(f.commitP99, 2)} ms`} />
        </div>
      )}

      <div className="charts">
        <Panel title="Commits, aborts and conflicts per second">
          {rateSeries.x.length < 2 && counters.error !== undefined ? (
            <EmptyState title="No rates without the counters">They come from GET /api/metrics/prometheus, which failed (the notification says why; it needs read on admin).</EmptyState>
          ) : rateSeries.x.length < 2 ? (
            <Loading label="Sampling the counters (a point every 2 s)…" />
          ) : (
            <TimeChart
              title="Transactions per second, sampled every 2 s while this page is open"
              series={[
                { label: 'commits/s', color: '#16a34a' },
                { label: 'aborts/s', color: '#d97706' },
                { label: 'conflicts/s', color: '#dc2626' },
              ]}
              data={rateSeries}
            />
          )}
        </Panel>
        <Panel title="Open transactions">
          {history.data === undefined ? (
            history.loading ? <Loading /> : <EmptyState title="No metric history">GET /api/v1/metrics/history failed; see the notification.</EmptyState>
          ) : history.data.length === 0 ? (
            <EmptyState title="No snapshots yet">The server takes one metric snapshot a second; this chart fills within a few seconds.</EmptyState>
          ) : (
            <TimeChart title={`Open transactions, one-second snapshots, ${WINDOWS.find((w) => w.minutes === windowMinutes)?.label.toLowerCase() ?? `last ${windowMinutes} minutes`}`} series={[{ label: 'open', color: '#2563eb' }]} data={openSeries} />
          )}
        </Panel>
      </div>

      {f !== undefined && <Breakdown f={f} />}

      <div className="row">
        <RunPanel txns={txns} updateTxns={updateTxns} onDone={counters.refresh} />
        <LocalTxnsPanel txns={txns} updateTxns={updateTxns} onDone={counters.refresh} />
      </div>
    </>
  );
}

function Breakdown({ f }: { f: TxnFigures }) {
  const reasons = Object.entries(f.abortsByReason).sort((a, b) => b[1] - a[1]);
  const shards = Object.keys({ ...f.shardConflicts, ...f.shardCommits }).sort((a, b) => Number(a) - Number(b));
  type ShardRow = { shard: string; commits: number } & Record<string, number | string>;
  const shardRows: ShardRow[] = shards.map((s) => ({ shard: s, commits: f.shardCommits[s] ?? 0, ...(f.shardConflicts[s] ?? {}) }));
  const shardReasons = ['write', 'read', 'range', 'locked'];
  return (
    <div className="row">
      <Panel title="Aborts by reason">
        {reasons.length === 0 ? (
          <EmptyState title="No aborted transactions">A rollback, a conflict (two transactions writing one key, or a failed condition) or an expiry shows here by reason.</EmptyState>
        ) : (
          <DataGrid
            caption="Aborted transactions by reason"
            columns={[
              { key: 'reason', label: 'Reason', render: (r) => (CONFLICT_REASONS.includes(r[0]) ? <Badge tone="bad">{r[0]} conflict</Badge> : <Badge>{REASON_TEXT[r[0]] ?? r[0].replace(/_/g, ' ')}</Badge>) },
              { key: 'count', label: 'Transactions', numeric: true, render: (r) => formatNumber(r[1]) },
            ]}
            rows={reasons}
            rowKey={(r) => r[0]}
          />
        )}
      </Panel>
      <Panel title="Per shard: commits and refused validations">
        {shardRows.length === 0 ? (
          <EmptyState title="No shard figures">The shards report their transaction commits and refused validations here.</EmptyState>
        ) : (
          <>
            <DataGrid
              caption="Transaction commits and refused validations per shard"
              columns={[
                { key: 'shard', label: 'Shard' },
                { key: 'commits', label: 'Commits', numeric: true, render: (r) => formatNumber(r.commits) },
                ...shardReasons.map((reason): Column<ShardRow> => ({ key: reason, label: reason[0].toUpperCase() + reason.slice(1), numeric: true, render: (r) => formatNumber(Number(r[reason] ?? 0)) })),
              ]}
              rows={shardRows}
              rowKey={(r) => r.shard}
            />
            <p className="muted small-note">
              Intents held now: {formatNumber(f.intents)} · MVCC version store: {formatNumber(f.versionBytes / 1024, 1)} KiB
            </p>
          </>
        )}
      </Panel>
    </div>
  );
}

// ---- the console -------------------------------------------------------------------------------

type OpRow = { op: 'put' | 'get' | 'delete'; key: string; value: string };
type CondRow = { key: string; kind: 'value' | 'exists' | 'version'; value: string };
type OpResult = { op: string; key: string; found?: boolean; deleted?: boolean; value?: string; version?: string | null; content_type?: string };
type RunResult = { target: string; committed: boolean; commit_ts?: number; results: OpResult[] };

const EMPTY_OP: OpRow = { op: 'put', key: '', value: '' };

function RunPanel({ txns, updateTxns, onDone }: { txns: readonly LocalTxn[]; updateTxns: (fn: (l: LocalTxn[]) => LocalTxn[]) => void; onDone: () => void }) {
  const [target, setTarget] = useQueryParam('run_in', 'atomic');
  const [isolation, setIsolation] = useState<string>('serializable');
  const [ops, setOps] = useState<OpRow[]>([{ ...EMPTY_OP }]);
  const [conds, setConds] = useState<CondRow[]>([]);
  const [result, setResult] = useState<RunResult | null>(null);
  const action = useAction();
  const open = txns.filter((t) => t.state === 'open');
  const atomic = target === 'atomic' || !open.some((t) => t.id === target);

  const setOp = (i: number, patch: Partial<OpRow>): void => setOps(ops.map((o, j) => (j === i ? { ...o, ...patch } : o)));
  const setCond = (i: number, patch: Partial<CondRow>): void => setConds(conds.map((c, j) => (j === i ? { ...c, ...patch } : c)));

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const operations = ops.filter((o) => o.key !== '');
    if (operations.length === 0) {
      notify.error(new Error('give at least one operation with a key'));
      return;
    }
    if (atomic) {
      const body = {
        isolation,
        ...(conds.length === 0 ? {} : { conditions: conds.filter((c) => c.key !== '').map((c) => ({ key: c.key, [c.kind]: c.kind === 'exists' ? c.value !== 'false' : c.value })) }),
        operations: operations.map((o) => (o.op === 'put' ? { op: 'put', key: o.key, value: o.value } : { op: o.op, key: o.key })),
      };
      const answer = await action.run(
        () => api.post<{ committed: boolean; commit_ts: number; results: OpResult[] }>('/api/v1/txn/execute', body),
        (a) => `Transaction committed at ${a.data.commit_ts}`,
      );
      if (answer !== undefined) setResult({ target: 'atomic', ...answer.data });
      onDone();
      return;
    }
    const id = target;
    let failure: unknown;
    const results = await action.run(async () => {
      const out: OpResult[] = [];
      try {
        for (const o of operations) out.push(await inTxn(id, o));
      } catch (error) {
        failure = error;
        throw error;
      }
      return out;
    }, `Ran ${operations.length} operation(s) in ${id}; commit or roll it back on the right`);
    if (results !== undefined) setResult({ target: id, committed: false, results });
    // A transaction the server no longer has is marked ended here, so it leaves the "Run in" list.
    if (failure instanceof ApiError && ['TXN_EXPIRED', 'TXN_NOT_FOUND', 'TXN_ABORTED', 'TXN_SNAPSHOT_TOO_OLD'].includes(failure.code)) {
      const code = failure.code;
      updateTxns((l) => l.map((t) => (t.id === id ? { ...t, state: 'failed', detail: code } : t)));
    }
  };

  return (
    <Panel title="Run a transaction">
      <form onSubmit={(e) => void submit(e)} className="txn-form" aria-label="Run a transaction">
        <div className="toolbar">
          <Field label="Run in" hint={atomic ? 'One request: every condition is checked, every operation applied, atomically.' : 'Each operation is a KV request with Mantis-Txn; nothing is visible to others until the commit.'}>
            <select value={atomic ? 'atomic' : target} onChange={(e) => setTarget(e.target.value)}>
              <option value="atomic">A new atomic transaction (POST /api/v1/txn/execute)</option>
              {open.map((t) => (
                <option key={t.id} value={t.id}>
                  Open transaction {t.id}
                </option>
              ))}
            </select>
          </Field>
          {atomic && (
            <Field label="Isolation">
              <select value={isolation} onChange={(e) => setIsolation(e.target.value)}>
                {ISOLATIONS.map((i) => (
                  <option key={i}>{i}</option>
                ))}
              </select>
            </Field>
          )}
        </div>

        {atomic && (
          <fieldset className="txn-rows">
            <legend>Conditions (checked before anything is written; a failed one is a conflict)</legend>
            {conds.length === 0 && <p className="muted">None: add one to write only if a key holds a value, exists, or has a version.</p>}
            {conds.map((c, i) => (
              <div className="txn-row" key={i}>
                <input aria-label={`Condition ${i + 1} key`} value={c.key} onChange={(e) => setCond(i, { key: e.target.value })} />
                <select aria-label={`Condition ${i + 1} test`} value={c.kind} onChange={(e) => setCond(i, { kind: e.target.value as CondRow['kind'], value: e.target.value === 'exists' ? 'true' : '' })}>
                  <option value="value">holds the value</option>
                  <option value="exists">exists</option>
                  <option value="version">has the version</option>
                </select>
                {c.kind === 'exists' ? (
                  <select aria-label={`Condition ${i + 1} expected`} value={c.value} onChange={(e) => setCond(i, { value: e.target.value })}>
                    <option value="true">yes</option>
                    <option value="false">no</option>
                  </select>
                ) : (
                  <input aria-label={`Condition ${i + 1} expected ${c.kind}`} value={c.value} onChange={(e) => setCond(i, { value: e.target.value })} />
                )}
                <button type="button" className="button small" aria-label={`Remove condition ${i + 1}`} onClick={() => setConds(conds.filter((_, j) => j !== i))}>
                  Remove
                </button>
              </div>
            ))}
            <button type="button" className="button small" onClick={() => setConds([...conds, { key: '', kind: 'value', value: '' }])}>
              Add condition
            </button>
          </fieldset>
        )}

        <fieldset className="txn-rows">
          <legend>Operations, in order</legend>
          {ops.map((o, i) => (
            <div className="txn-row" key={i}>
              <select aria-label={`Operation ${i + 1}`} value={o.op} onChange={(e) => setOp(i, { op: e.target.value as OpRow['op'] })}>
                <option value="put">put</option>
                <option value="get">get</option>
                <option value="delete">delete</option>
              </select>
              <input aria-label={`Operation ${i + 1} key`} value={o.key} onChange={(e) => setOp(i, { key: e.target.value })} />
              <input aria-label={`Operation ${i + 1} value`} value={o.value} disabled={o.op !== 'put'} onChange={(e) => setOp(i, { value: e.target.value })} />
              <button type="button" className="button small" aria-label={`Remove operation ${i + 1}`} disabled={ops.length === 1} onClick={() => setOps(ops.filter((_, j) => j !== i))}>
                Remove
              </button>
            </div>
          ))}
          <button type="button" className="button small" onClick={() => setOps([...ops, { ...EMPTY_OP }])}>
            Add operation
          </button>
        </fieldset>
        <div className="actions">
          <button type="submit" className="button primary" disabled={action.busy}>
            {action.busy ? 'Running…' : atomic ? 'Run transaction' : 'Run in transaction'}
          </button>
        </div>
      </form>
      {result !== null && (
        <div className="txn-result" aria-live="polite">
          <h3>
            Result {result.committed ? <Badge tone="good">committed at {result.commit_ts}</Badge> : <Badge tone="info">pending in {result.target}</Badge>}
          </h3>
          <DataGrid
            caption="Operation results"
            columns={[
              { key: 'op', label: 'Op' },
              { key: 'key', label: 'Key' },
              { key: 'outcome', label: 'Outcome', render: (r) => (r.op === 'get' ? (r.found === true ? 'found' : 'not found') : r.op === 'delete' ? (r.deleted === true ? 'deleted' : 'was absent') : 'written') },
              { key: 'value', label: 'Value', render: (r) => r.value ?? '' },
              { key: 'version', label: 'Version', render: (r) => r.version ?? '' },
            ]}
            rows={result.results}
          />
        </div>
      )}
    </Panel>
  );
}

/** One operation inside an interactive transaction: the KV routes with Mantis-Txn. */
async function inTxn(id: string, o: OpRow): Promise<OpResult> {
  const path = `/api/v1/kv/${seg(o.key)}`;
  const headers = { 'Mantis-Txn': id };
  if (o.op === 'put') {
    await requestRaw('PUT', path, { body: o.value, contentType: 'text/plain; charset=utf-8', headers });
    return { op: 'put', key: o.key };
  }
  if (o.op === 'delete') {
    const answer = await api.delete<{ deleted: boolean }>(path, { headers });
    return { op: 'delete', key: o.key, deleted: answer.data.deleted };
  }
  try {
    const response = await requestRaw('GET', path, { headers: { ...headers, Accept: '*/*' } });
    return { op: 'get', key: o.key, found: true, value: await response.text(), version: response.headers.get('mantis-version') };
  } catch (error) {
    if (error instanceof ApiError && error.code === 'KEY_NOT_FOUND') return { op: 'get', key: o.key, found: false };
    throw error;
  }
}

function LocalTxnsPanel({ txns, updateTxns, onDone }: { txns: readonly LocalTxn[]; updateTxns: (fn: (l: LocalTxn[]) => LocalTxn[]) => void; onDone: () => void }) {
  const [isolation, setIsolation] = useState<string>('serializable');
  const [timeoutS, setTimeoutS] = useState('60');
  const begin = useAction();
  const end = useAction();
  const [, setTarget] = useQueryParam('run_in', 'atomic');
  const [now, setNow] = useState(Date.now());
  const ticking = useRef<ReturnType<typeof setInterval>>(undefined);
  useEffect(() => {
    ticking.current = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(ticking.current);
  }, []);

  const start = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const answer = await begin.run(
      () => api.post<{ id: string; isolation: string; timeout_ms: number; snapshot_ts: number }>('/api/v1/txn', { isolation, timeout_ms: Math.round(Number(timeoutS) * 1000) }),
      (a) => `Transaction ${a.data.id} begun`,
    );
    if (answer !== undefined) {
      updateTxns((l) => [...l, { ...answer.data, begun_at: Date.now(), state: 'open' }]);
      setTarget(answer.data.id);
      onDone();
    }
  };
  const finish = async (t: LocalTxn, how: 'commit' | 'rollback'): Promise<void> => {
    let failure: unknown;
    const answer = await end.run(
      () =>
        api.post<{ commit_ts?: number }>(`/api/v1/txn/${seg(t.id)}/${how}`).catch((error: unknown) => {
          failure = error;
          throw error;
        }),
      how === 'commit' ? (a) => `Committed ${t.id} at ${a.data.commit_ts ?? '?'}` : `Rolled back ${t.id}`,
    );
    updateTxns((l) =>
      l.map((x) => {
        if (x.id !== t.id) return x;
        if (answer !== undefined) return { ...x, state: how === 'commit' ? 'committed' : 'rolled back', detail: how === 'commit' ? `at ${answer.data.commit_ts}` : undefined };
        return { ...x, state: 'failed', detail: failure instanceof ApiError ? failure.code : 'failed' };
      }),
    );
    setTarget('atomic');
    onDone();
  };

  return (
    <Panel
      title="Interactive transactions begun here"
      actions={
        txns.some((t) => t.state !== 'open') ? (
          <button type="button" className="button small" onClick={() => updateTxns((l) => l.filter((t) => t.state === 'open'))}>
            Clear ended
          </button>
        ) : undefined
      }
    >
      <form className="toolbar" onSubmit={(e) => void start(e)} aria-label="Begin a transaction">
        <Field label="Isolation">
          <select value={isolation} onChange={(e) => setIsolation(e.target.value)}>
            {ISOLATIONS.map((i) => (
              <option key={i}>{i}</option>
            ))}
          </select>
        </Field>
        <Field label="Idle timeout (s)">
          <input type="number" min={1} max={600} value={timeoutS} onChange={(e) => setTimeoutS(e.target.value)} />
        </Field>
        <button type="submit" className="button" disabled={begin.busy}>
          {begin.busy ? 'Beginning…' : 'Begin transaction'}
        </button>
      </form>
      {txns.length === 0 ? (
        <EmptyState title="No interactive transaction begun here">
          The server counts open transactions but does not list them. Begin one here, run operations in it with the form on the left (Run in: the transaction), then commit or roll it back.
        </EmptyState>
      ) : (
        <DataGrid
          caption="Transactions begun from this tab"
          columns={[
            { key: 'id', label: 'Id', render: (t) => <code title={`snapshot ${t.snapshot_ts}, idle timeout ${t.timeout_ms / 1000} s`}>{t.id}</code> },
            { key: 'isolation', label: 'Isolation', render: (t) => t.isolation.replace('_', ' ') },
            { key: 'age', label: 'Begun', render: (t) => (t.state === 'open' ? `${Math.max(0, Math.round((now - t.begun_at) / 1000))} s ago` : new Date(t.begun_at).toLocaleTimeString('en-GB', { hour12: false })) },
            {
              key: 'state',
              label: 'State',
              render: (t) => <Badge tone={t.state === 'open' ? 'info' : t.state === 'committed' ? 'good' : t.state === 'failed' ? 'bad' : 'neutral'}>{t.detail === undefined ? t.state : `${t.state} ${t.detail}`}</Badge>,
            },
            {
              key: 'actions',
              label: 'Actions',
              render: (t) =>
                t.state === 'open' ? (
                  <span className="actions">
                    <button type="button" className="button small primary" disabled={end.busy} aria-busy={end.busy} onClick={() => void finish(t, 'commit')}>
                      Commit
                    </button>
                    <button type="button" className="button small" disabled={end.busy} aria-busy={end.busy} onClick={() => void finish(t, 'rollback')}>
                      Roll back
                    </button>
                  </span>
                ) : null,
            },
          ]}
          rows={[...txns].reverse()}
          rowKey={(t) => t.id}
        />
      )}
    </Panel>
  );
}
