// The SQL benchmark's figures, answer checks, targets and printed tables.

import { fmtMs, fmtRate, median } from './docs-report.js';
import type { LatencyStats } from './pgbench.js';
import { table } from './report.js';
import type { Answer, Cell } from './sql-engines.js';

export type System = 'mantis' | 'duckdb' | 'sqlite' | 'pg';
export const SYSTEMS: readonly System[] = ['mantis', 'duckdb', 'sqlite', 'pg'];
export const SYSTEM_LABEL: Readonly<Record<System, string>> = { mantis: 'MantisDB', duckdb: 'DuckDB', sqlite: 'SQLite', pg: 'PostgreSQL' };

/** One system's runs of one query: wall times of the measured runs (after the warm-ups), the last answer's shape. */
export type Runs = {
  readonly e2eMs: number[];
  readonly bestMs: number | null;
  readonly medianMs: number | null;
  readonly rows: number | null;
  readonly firstRow: Cell[] | null;
  readonly error: string | null;
  /** MantisDB: the route's own time per measured run (meta.took_ms: parse + plan + execute, no HTTP). */
  readonly serverMs?: number[];
};

/** MantisDB's engine time: "Execution Time" of EXPLAIN (ANALYZE, FORMAT JSON), per run. */
export type EngineTimes = { readonly executionMs: number[]; readonly planningMs: number[]; readonly error: string | null };

export type QueryResult = {
  readonly id: string;
  readonly sql: string;
  readonly runs: Partial<Record<System, Runs>>;
  readonly mantisEngine: EngineTimes | null;
  /** Answers that differ from the reference (warnings). */
  readonly mismatches: string[];
};

export type PointResult = {
  readonly connections: number;
  readonly durationS: number;
  readonly mantis: { readonly opsPerSec: number; readonly ops: number; readonly errors: number; readonly errorExamples: string[]; readonly latency: LatencyStats } | null;
  readonly mantisError: string | null;
  readonly pgbench: { readonly tps: number; readonly clients: number; readonly threads: number; readonly scale: number; readonly failed: number; readonly latency: LatencyStats; readonly queryMode: string } | null;
  readonly pgbenchError: string | null;
};

export type Target = { readonly name: string; readonly goal: string; readonly actual: string; readonly met: boolean | null };

export function runsOf(e2eMs: number[], answer: Answer | null, error: string | null): Runs {
  const sorted = [...e2eMs].sort((a, b) => a - b);
  return {
    e2eMs,
    bestMs: sorted.length > 0 ? sorted[0] : null,
    medianMs: median(e2eMs),
    rows: answer?.rows.length ?? null,
    firstRow: answer?.rows[0] ?? null,
    error,
  };
}

const REL = 1e-6;

function sameCell(a: Cell, b: Cell): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= REL * Math.max(Math.abs(a), Math.abs(b)) || Math.abs(a - b) < 1e-9;
  // a date against a number: microseconds, milliseconds or days since the epoch
  if (typeof a === 'string' && typeof b === 'number' && /^\d{4}-\d{2}-\d{2}$/.test(a)) {
    const ms = Date.parse(`${a}T00:00:00Z`);
    return b === ms * 1000 || b === ms || b === ms / 86_400_000;
  }
  if (typeof b === 'string' && typeof a === 'number') return sameCell(b, a);
  return false;
}

/** Differences of `other` from `ref`: row count, then the first row cell by cell (numbers within 1e-6 relative). */
export function compareAnswers(refName: string, ref: Answer, name: string, other: Answer): string[] {
  const out: string[] = [];
  if (ref.rows.length !== other.rows.length) out.push(`${name} returned ${other.rows.length} rows, ${refName} ${ref.rows.length}`);
  const a = ref.rows[0];
  const b = other.rows[0];
  if (a === undefined || b === undefined) return out;
  if (a.length !== b.length) {
    out.push(`${name}'s first row has ${b.length} columns, ${refName}'s ${a.length}`);
    return out;
  }
  for (let i = 0; i < a.length; i++) {
    if (!sameCell(a[i], b[i])) out.push(`${name} first row, column ${i + 1} (${ref.columns[i] ?? '?'}): ${JSON.stringify(b[i])}, ${refName} ${JSON.stringify(a[i])}`);
  }
  return out;
}

/** Every row against the expected rows (the GROUP BY table's answer is known). */
export function compareAll(name: string, expected: readonly (readonly number[])[], got: Answer): string[] {
  if (got.rows.length !== expected.length) return [`${name} returned ${got.rows.length} groups, expected ${expected.length}`];
  for (let r = 0; r < expected.length; r++) {
    for (let i = 0; i < expected[r].length; i++) {
      if (!sameCell(expected[r][i], got.rows[r][i])) return [`${name} row ${r + 1} column ${i + 1}: ${JSON.stringify(got.rows[r][i])}, expected ${expected[r][i]}`];
    }
  }
  return [];
}

const ratio = (a: number | null | undefined, b: number | null | undefined): number | null => (a == null || b == null || b === 0 ? null : a / b);
const fmtX = (r: number | null): string => (r === null ? '—' : `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}×`);

function cell(r: Runs | undefined): string {
  if (r === undefined) return 'not run';
  if (r.error !== null) return 'FAILED';
  return `${fmtMs(r.medianMs)} (best ${fmtMs(r.bestMs)})`;
}

function engineCell(e: EngineTimes | null): string {
  if (e === null) return 'not run';
  if (e.executionMs.length === 0) return 'n/a';
  const sorted = [...e.executionMs].sort((a, b) => a - b);
  return `${fmtMs(median(e.executionMs))} (best ${fmtMs(sorted[0])})`;
}

/** The main table: one line per query, MantisDB's engine and HTTP times beside every baseline. */
export function queriesTable(results: readonly QueryResult[]): string {
  const rows = results.map((q) => [
    q.id,
    engineCell(q.mantisEngine),
    cell(q.runs.mantis),
    cell(q.runs.duckdb),
    cell(q.runs.sqlite),
    cell(q.runs.pg),
    `${fmtX(ratio(q.runs.mantis?.medianMs, q.runs.duckdb?.medianMs))} / ${fmtX(ratio(q.runs.sqlite?.medianMs, q.runs.mantis?.medianMs))} / ${fmtX(ratio(q.runs.pg?.medianMs, q.runs.mantis?.medianMs))}`,
    q.mismatches.length === 0 ? 'same' : `DIFFER (${q.mismatches.length})`,
  ]);
  return table(
    ['query', 'MantisDB engine (EXPLAIN ANALYZE)', 'MantisDB over HTTP', 'DuckDB', 'SQLite', 'PostgreSQL', 'Mantis÷DuckDB / SQLite÷Mantis / PG÷Mantis', 'answers'],
    rows,
    [false, true, true, true, true, true, true, false],
  );
}

export function pointTable(p: PointResult): string {
  const m = p.mantis;
  const g = p.pgbench;
  const rows = [
    [
      `MantisDB POST /api/v1/sql point select, ${p.connections} connections`,
      m === null ? (p.mantisError === null ? 'not run' : 'FAILED') : fmtRate(m.opsPerSec),
      m === null ? '—' : fmtMs(m.latency.p50Ms),
      m === null ? '—' : fmtMs(m.latency.p99Ms),
      m === null ? '—' : String(m.errors),
    ],
    [
      g === null ? 'PostgreSQL pgbench -S' : `PostgreSQL pgbench -S, ${g.clients} clients / ${g.threads} threads, scale ${g.scale}, ${g.queryMode}`,
      g === null ? (p.pgbenchError === null ? 'not run' : 'FAILED') : fmtRate(g.tps),
      g === null ? '—' : fmtMs(g.latency.p50Ms),
      g === null ? '—' : fmtMs(g.latency.p99Ms),
      g === null ? '—' : String(g.failed),
    ],
  ];
  return table(['point selects', 'ops/s (tps)', 'p50', 'p99', 'errors'], rows, [false, true, true, true, true]);
}

/** The issue's targets, judged on the medians of the end-to-end times (MantisDB over HTTP). */
export function checkTargets(results: readonly QueryResult[], point: PointResult | null): Target[] {
  const out: Target[] = [];
  const ok = (r: Runs | undefined): number | null => (r === undefined || r.error !== null ? null : r.medianMs);
  for (const q of results) {
    const m = ok(q.runs.mantis);
    const d = ok(q.runs.duckdb);
    const s = ok(q.runs.sqlite);
    const p = ok(q.runs.pg);
    if (q.id === 'q1' || q.id === 'q6') {
      const rd = ratio(m, d);
      out.push({ name: `${q.id.toUpperCase()} ≤ 3× DuckDB`, goal: 'MantisDB ÷ DuckDB ≤ 3', actual: `${fmtX(rd)} (${fmtMs(m)} vs ${fmtMs(d)})`, met: rd === null ? null : rd <= 3 });
      const rs = ratio(s, m);
      out.push({ name: `${q.id.toUpperCase()} ≥ 5× faster than SQLite`, goal: 'SQLite ÷ MantisDB ≥ 5', actual: `${fmtX(rs)} (${fmtMs(s)} vs ${fmtMs(m)})`, met: rs === null ? null : rs >= 5 });
      const rp = ratio(p, m);
      out.push({ name: `${q.id.toUpperCase()} ≥ 5× faster than PostgreSQL`, goal: 'PostgreSQL ÷ MantisDB ≥ 5', actual: `${fmtX(rp)} (${fmtMs(p)} vs ${fmtMs(m)})`, met: rp === null ? null : rp >= 5 });
    } else if (q.id === 'q3' || q.id === 'q5') {
      const rp = ratio(p, m);
      out.push({ name: `${q.id.toUpperCase()} faster than PostgreSQL`, goal: 'PostgreSQL ÷ MantisDB > 1', actual: `${fmtX(rp)} (${fmtMs(p)} vs ${fmtMs(m)})`, met: rp === null ? null : rp > 1 });
    }
  }
  if (point !== null) {
    const r = ratio(point.mantis?.opsPerSec, point.pgbench?.tps);
    out.push({
      name: `point selects ≥ 1.0× pgbench -S (${point.connections} connections)`,
      goal: 'MantisDB ops/s ÷ pgbench -S tps ≥ 1',
      actual: `${fmtX(r)} (${fmtRate(point.mantis?.opsPerSec)} vs ${fmtRate(point.pgbench?.tps)})`,
      met: r === null ? null : r >= 1 && (point.mantis?.errors ?? 0) === 0,
    });
  }
  return out;
}

export function targetsTable(targets: readonly Target[]): string {
  return table(
    ['target', 'measured', 'result'],
    targets.map((t) => [t.name, t.actual, t.met === null ? 'n/a (not measured)' : t.met ? 'met' : 'NOT met']),
    [false, true, false],
  );
}

/** Every measured run, one line per query and system. */
export function runsLines(results: readonly QueryResult[]): string[] {
  const out: string[] = [];
  for (const q of results) {
    for (const s of SYSTEMS) {
      const r = q.runs[s];
      if (r === undefined) continue;
      const times = r.error !== null ? `FAILED: ${r.error}` : r.e2eMs.map((x) => fmtMs(x)).join(', ');
      const server = r.serverMs === undefined || r.serverMs.length === 0 ? '' : ` (the route's meta.took_ms ${r.serverMs.map((x) => fmtMs(x)).join(', ')})`;
      out.push(`  ${q.id} ${SYSTEM_LABEL[s]}: ${times}${server}${r.rows === null ? '' : `; ${r.rows} rows, first ${JSON.stringify(r.firstRow)}`}`);
    }
    const e = q.mantisEngine;
    if (e !== null) out.push(`  ${q.id} MantisDB EXPLAIN ANALYZE: ${e.error !== null ? `n/a (${e.error})` : `execution ${e.executionMs.map((x) => fmtMs(x)).join(', ')}; planning ${e.planningMs.map((x) => fmtMs(x)).join(', ')}`}`);
  }
  return out;
}
