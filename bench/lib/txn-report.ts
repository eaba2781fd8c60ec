// The transaction benchmark's printed tables: MantisDB's scenarios beside
// PostgreSQL's pgbench TPC-B-like rows, the details, the money checks, and
// the target (cross-shard transfers at serializable ≥ 2× PostgreSQL's tps).

import type { PgbenchResult } from './pgbench.js';
import { table } from './report.js';
import type { ScenarioResult } from './txn-run.js';

export const TARGET_RATIO = 2;

const KIND_LABEL = { single: 'single-shard', cross: 'cross-shard' } as const;
const MODE_LABEL = { interactive: 'interactive (6 round trips)', cas: 'one-shot CAS (2 round trips)' } as const;

export const fmtMs = (ms: number): string => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : ms < 100 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`);
export const fmtTps = (n: number): string => (n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0));
const pct = (x: number | null): string => (x === null ? '?' : `${(100 * x).toFixed(1)} %`);
const cpu = (x: number | null): string => (x === null ? '?' : `${(100 * x).toFixed(0)}%`);

export function scenarioLabel(r: ScenarioResult, accounts: number): string {
  return `${KIND_LABEL[r.kind]}, ${r.contention} contention (${accounts} accounts)`;
}

export function moneyCell(r: ScenarioResult): string {
  const inv = r.invariant;
  if (inv.sumOk && inv.wrongAccounts === 0) return 'ok';
  const parts: string[] = [];
  if (!inv.sumOk) parts.push(`SUM ${inv.sum ?? 'missing accounts'} ≠ ${inv.expectedSum}`);
  if (inv.wrongAccounts > 0) parts.push(`${inv.wrongAccounts} accounts wrong`);
  return `!! ${parts.join(', ')}`;
}

export function pgLabel(r: PgbenchResult): string {
  return `PostgreSQL ${r.pgVersion} pgbench TPC-B-like, scale ${r.scale} (${r.scale} branch${r.scale === 1 ? '' : 'es'})`;
}

/** The main table: scenario × mode → tps, p50, p99, abort rate; the PostgreSQL rows below. */
export function mainTable(results: readonly ScenarioResult[], accountsOf: (r: ScenarioResult) => number, pg: readonly { readonly result: PgbenchResult; readonly cpu: { readonly others: number | null } }[]): string {
  const rows = results.map((r) => [
    scenarioLabel(r, accountsOf(r)),
    MODE_LABEL[r.mode],
    fmtTps(r.tps),
    fmtMs(r.latency.p50Ms),
    fmtMs(r.latency.p99Ms),
    pct(r.abortRate),
    r.errors === 0 ? '0' : `!! ${r.errors}`,
    moneyCell(r),
    cpu(r.cpu.others),
  ]);
  for (const { result: p, cpu: c } of pg) {
    const attempts = p.transactions + p.failedTransactions;
    rows.push([pgLabel(p), `${p.settings.default_transaction_isolation ?? '?'}, ${p.queryMode}`, fmtTps(p.tps), fmtMs(p.latency.p50Ms), fmtMs(p.latency.p99Ms), pct(attempts === 0 ? 0 : p.failedTransactions / attempts), '—', '—', cpu(c.others)]);
  }
  return table(['scenario', 'mode', 'tps', 'p50', 'p99', 'abort rate', 'errors', 'money', "others' CPU"], rows, [false, false, true, true, true, true, true, false, true]);
}

function reasons(r: ScenarioResult): string {
  const e = Object.entries(r.abortReasons).sort((a, b) => b[1] - a[1]);
  return e.length === 0 ? '—' : e.map(([k, v]) => `${k} ${v}`).join(', ');
}

function serverCommits(r: ScenarioResult): string {
  const c = r.serverCounters;
  if (c === null) return '?';
  const parts = Object.entries(c).filter(([k]) => k.startsWith('commits:')).map(([k, v]) => `${k.slice(8)} ${v}`);
  return parts.length === 0 ? '—' : parts.join(', ');
}

/** Per scenario: tail latency, retries, abort reasons, what the server counted, and where the CPU went. */
export function detailTable(results: readonly ScenarioResult[]): string {
  const rows = results.map((r) => [
    r.id,
    String(r.commits),
    String(r.aborts),
    fmtMs(r.latency.p999Ms),
    fmtMs(r.latency.maxMs),
    fmtMs(r.latencyWithRetries.p99Ms),
    String(r.maxAttemptsPerTransfer),
    reasons(r),
    serverCommits(r),
    `${cpu(r.cpu.server)} / ${cpu(r.cpu.client)} / ${cpu(r.cpu.others)}`,
  ]);
  return table(['scenario', 'commits', 'aborts', 'p99.9', 'max', 'p99 incl. retries', 'max attempts', 'aborts by reason', 'server commits by path', 'CPU server / client / others'], rows, [false, true, true, true, true, true, true, false, false, true]);
}

export type RatioCheck = { readonly what: string; readonly ours: number; readonly pg: number; readonly ratio: number; readonly met: boolean; readonly trustworthy: boolean };

/**
 * Cross-shard tps over PostgreSQL's TPC-B tps, contention matched: high
 * contention against the smallest scale (1 branch: every transaction updates
 * the same row), low contention against the largest scale run.
 */
export function ratioChecks(results: readonly ScenarioResult[], pg: readonly PgbenchResult[]): RatioCheck[] {
  if (pg.length === 0) return [];
  const byScale = [...pg].sort((a, b) => a.scale - b.scale);
  const checks: RatioCheck[] = [];
  for (const r of results) {
    if (r.kind !== 'cross') continue;
    const p = r.contention === 'high' ? byScale[0] : byScale[byScale.length - 1];
    const ratio = p.tps > 0 ? r.tps / p.tps : Infinity;
    checks.push({
      what: `cross-shard ${r.isolation}, ${r.contention} contention, ${MODE_LABEL[r.mode]} / ${pgLabel(p)}`,
      ours: r.tps,
      pg: p.tps,
      ratio,
      met: ratio >= TARGET_RATIO,
      trustworthy: r.errors === 0 && r.invariant.sumOk && r.invariant.wrongAccounts === 0 && r.stoppedEarly === null,
    });
  }
  return checks;
}

export function ratioTable(checks: readonly RatioCheck[], isolation: string): string {
  const rows = checks.map((c) => [
    c.what,
    `${fmtTps(c.ours)} / ${fmtTps(c.pg)}`,
    `${c.ratio.toFixed(2)}×`,
    `≥ ${TARGET_RATIO}×`,
    !c.trustworthy ? 'INVALID (errors or money wrong)' : isolation !== 'serializable' ? `${c.met ? 'met' : 'NOT met'} (but the target is at serializable)` : c.met ? 'met' : 'NOT met',
  ]);
  return table(['cross-shard tps / PostgreSQL TPC-B tps', 'tps', 'ratio', 'target', 'result'], rows, [false, true, true, false, false]);
}
