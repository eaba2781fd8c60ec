// The printed table, the targets, and the JSON results file.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadResult } from './load.js';
import { authScenarioId, type Scenario } from './scenarios.js';

export type ScenarioResult = {
  readonly scenario: Scenario;
  readonly label: string;
  readonly load: LoadResult;
  readonly opsPerSec: number;
  /** Compared with this scenario: the bare server's, or MantisDB's with auth off for an auth scenario (null: no comparison). */
  readonly baselineId: string | null;
  readonly ratio: number | null;
  readonly errors: number;
  readonly rssAfterKiB: number | null;
  /** Share of all CPU time other processes used during the measurement (null: unknown). */
  readonly othersCpu: number | null;
};

export type TargetCheck = { readonly name: string; readonly goal: string; readonly actual: string; readonly met: boolean; readonly trustworthy: boolean };

export function errorCount(load: LoadResult): number {
  const s = load.socketErrors;
  return load.non2xx + s.connect + s.read + s.write + s.timeout;
}

export function describeErrors(load: LoadResult): string {
  const s = load.socketErrors;
  const parts: string[] = [];
  if (load.non2xx > 0) parts.push(`non-2xx ${load.non2xx}`);
  for (const [name, n] of Object.entries(s)) if (n > 0) parts.push(`${name} ${n}`);
  return parts.length === 0 ? '0' : parts.join(', ');
}

function fmtRate(n: number): string {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(2)}M`;
  if (n >= 10_000) return `${(n / 1000).toFixed(1)}k`;
  return n.toFixed(0);
}

function fmtMs(ms: number | null): string {
  if (ms === null) return '?';
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`;
}

export function table(header: readonly string[], rows: readonly (readonly string[])[], rightAligned: readonly boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]): string =>
    '| ' + cells.map((c, i) => (rightAligned[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ') + ' |';
  const rule = '|' + widths.map((w, i) => (rightAligned[i] ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|';
  return [line(header), rule, ...rows.map(line)].join('\n');
}

export function resultsTable(results: readonly ScenarioResult[]): string {
  const rows = results.map((r) => [
    r.label,
    fmtRate(r.opsPerSec),
    r.scenario.opsPerRequest === 1 ? '' : fmtRate(r.load.requestsPerSec),
    fmtMs(r.load.latencyMs.p50),
    fmtMs(r.load.latencyMs.p99),
    r.ratio === null ? '—' : `${r.ratio.toFixed(2)}× ${r.baselineId ?? ''}`.trim(),
    describeErrors(r.load) === '0' ? '0' : `!! ${describeErrors(r.load)}`,
    r.othersCpu === null ? '?' : `${(r.othersCpu * 100).toFixed(0)}%`,
  ]);
  return table(['scenario', 'ops/s', 'req/s', 'p50', 'p99', 'vs baseline', 'errors', 'others\' CPU'], rows, [false, true, true, true, true, false, false, true]);
}

/** The auth scenarios' ids (MantisDB with --auth on and rate limits; each compared with the same run's auth-off MantisDB). */
export const AUTH_SCENARIO_IDS: readonly string[] = (['get', 'put'] as const).flatMap((kind) => (['key', 'jwt'] as const).map((auth) => authScenarioId(auth, kind)));
export const AUTH_RATIO_MIN = 0.9;
/** The rate limiter alone (auth on with an API key; limits off, then on at run time): it may cost at most 2 % of GET throughput. */
export const LIMITER_SCENARIO_ID = 'mantis-get-limiter';
export const LIMITER_RATIO_MIN = 0.98;

export function checkTargets(results: readonly ScenarioResult[]): TargetCheck[] {
  const byId = new Map(results.map((r) => [r.scenario.id, r]));
  const checks: TargetCheck[] = [];
  const ratioTarget = (id: string, min: number, what: string, baseline = 'bare'): void => {
    const r = byId.get(id);
    if (!r || r.ratio === null || r.baselineId === null) return;
    const base = byId.get(r.baselineId);
    checks.push({
      name: `${what} ≥ ${min}× ${baseline}`,
      goal: `ratio ≥ ${min}`,
      actual: `${r.ratio.toFixed(2)}× (${fmtRate(r.opsPerSec)} vs ${fmtRate(base?.opsPerSec ?? 0)})`,
      met: r.ratio >= min,
      trustworthy: r.errors === 0 && (base?.errors ?? 0) === 0,
    });
  };
  ratioTarget('mantis-get', 0.6, 'GET');
  ratioTarget('mantis-put', 0.5, 'PUT');
  // Authentication and rate limiting may cost at most 10 % against the same run's MantisDB with auth off.
  for (const id of AUTH_SCENARIO_IDS) {
    const r = byId.get(id);
    if (r) ratioTarget(id, AUTH_RATIO_MIN, r.label.replace(/^MantisDB /, ''), 'auth off');
  }
  ratioTarget(LIMITER_SCENARIO_ID, LIMITER_RATIO_MIN, 'GET, rate limit on', 'rate limit off');
  for (const id of ['mantis-get', 'mantis-put', 'mantis-mix']) {
    const r = byId.get(id);
    if (!r) continue;
    const p99 = r.load.latencyMs.p99;
    checks.push({ name: `${r.label} p99 ≤ 3 ms`, goal: 'p99 ≤ 3 ms', actual: fmtMs(p99), met: p99 !== null && p99 <= 3, trustworthy: r.errors === 0 });
  }
  const batch = byId.get('mantis-batch');
  if (batch) {
    checks.push({
      name: 'batch ≥ 400k ops/s',
      goal: '≥ 400000 ops/s',
      actual: `${fmtRate(batch.opsPerSec)} ops/s`,
      met: batch.opsPerSec >= 400_000,
      trustworthy: batch.errors === 0,
    });
  }
  return checks;
}

export function targetsTable(checks: readonly TargetCheck[]): string {
  const rows = checks.map((c) => [c.name, c.actual, c.trustworthy ? (c.met ? 'met' : 'NOT MET') : 'INVALID: responses failed']);
  return table(['target', 'measured', 'result'], rows, [false, true, false]);
}

export function fmtMiB(kib: number | null): string {
  return kib === null ? '?' : `${(kib / 1024).toFixed(1)} MiB`;
}

/** bench/results/<kind>-<start time>.json under root (the directory is created). */
export function resultsPath(root: string, kind: string, startedAt: Date): string {
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  return join(dir, `${kind}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
}

/** Appends a "Problems:" section listing each problem, when there are any. */
export function pushProblems(out: string[], problems: readonly string[]): void {
  if (problems.length === 0) return;
  out.push('');
  out.push('Problems:');
  for (const p of problems) out.push(`  - ${p}`);
}
